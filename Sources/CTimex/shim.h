#include <sys/timex.h>

/* The kernel's view of time synchronisation (adjtimex, read only): 1 synchronised, 0 not,
   -1 unknown. Swift's Glibc module does not carry sys/timex.h. */
static inline int millwright_clock_synchronized(void) {
    struct timex tx = {0};
    int state = adjtimex(&tx);
    if (state < 0) return -1;
    return (state == TIME_ERROR || (tx.status & STA_UNSYNC)) ? 0 : 1;
}
