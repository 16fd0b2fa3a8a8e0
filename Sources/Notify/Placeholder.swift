// placeholder until the SMTP client lands
