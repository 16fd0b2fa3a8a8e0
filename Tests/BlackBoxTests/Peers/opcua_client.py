"""An independent OPC UA client (python asyncua) against `millwright serve`, run by OPCUATests.swift.

Usage: opcua_client.py URL PHASE USER PASSWORD
  before: anonymous session; browses Objects to the CAM-07 VisionSystem object, reads
          ServerStatus and RejectPart (false); a UserName login with a wrong password must
          fail with BadUserAccessDenied; an anonymous Write of RejectPart is refused.
  after:  UserName session; subscribes to RejectPart's data changes, modifies the item
          (ModifyMonitoredItems), prints "subscribed" once the first value (false) is published, waits (with a deadline) for true to be
          published, finds the detection under ResultManagement/Results, writes RejectPart
          false and waits for false to be published.
  secure: (PKI_DIR is the server's opcua.pki_dir) makes a client certificate and puts it in
          PKI_DIR/trusted, as an administrator would; then with each policy (Basic256Sha256,
          Aes128_Sha256_RsaOaep) and mode (Sign, SignAndEncrypt): a UserName session whose
          password goes encrypted, browses to CAM-07 and reads ServerStatus; a wrong password
          must fail with BadUserAccessDenied.
  untrusted: a certificate not in trusted/ is refused, and found copied in PKI_DIR/rejected.
  renew:  a trusted client asks for a 10 s token (the server's minimum) and holds a
          subscription on ServerStatus.CurrentTime for 2 minutes: the values keep coming while
          the channel renews its token several times.
  events: over Aes128_Sha256_RsaOaep SignAndEncrypt, subscribes to ResultReadyEventType on
          CAM-07 (asyncua's own filter, from the type's properties) and on Server (select
          clauses by browse path, where OfType ResultReadyEventType And ResultState Equals 2),
          prints "subscribed", and waits for the event of detection opcua-ev-1 on both, checking
          its fields.
Prints one line "ok <phase>" on success; anything else exits non-zero with the reason.
"""
import asyncio
import datetime
import json
import os
import sys
import tempfile
import time

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyAes128Sha256RsaOaep, SecurityPolicyBasic256Sha256
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

CLIENT_URI = "urn:millwright:test:asyncua"

MACHINE_VISION = "http://opcfoundation.org/UA/MachineVision"


async def camera_and_reject_part(client):
    objects = client.nodes.objects
    cameras = {}
    for child in await objects.get_children(refs=ua.ObjectIds.Organizes):
        name = await child.read_browse_name()
        cameras[name.Name] = child
    assert "CAM-07" in cameras, f"no CAM-07 under Objects: {sorted(cameras)}"
    camera = cameras["CAM-07"]
    mv = await client.get_namespace_index(MACHINE_VISION)
    type_definition = await camera.read_type_definition()
    assert (type_definition.NamespaceIndex, type_definition.Identifier) == (mv, 1003), f"CAM-07 is a {type_definition}, not VisionSystemType"
    own = (await camera.read_browse_name()).NamespaceIndex
    reject_part = await camera.get_child([f"{own}:RejectPart"])
    state = await camera.get_child([f"{mv}:SystemState"])
    results = await camera.get_child([f"{mv}:ResultManagement", f"{mv}:Results"])
    assert await results.read_node_class() == ua.NodeClass.Object
    assert await state.read_node_class() == ua.NodeClass.Variable
    return reject_part, results


async def before(url, user, password):
    async with Client(url=url, timeout=10) as client:
        status = await client.nodes.server.get_child(["0:ServerStatus"])
        value = await status.read_value()
        assert value.State == ua.ServerState.Running, value
        assert abs(value.CurrentTime.timestamp() - time.time()) < 60, value.CurrentTime
        state = await client.get_node(ua.ObjectIds.Server_ServerStatus_State).read_value()
        assert state == ua.ServerState.Running, state
        namespaces = await client.get_namespace_array()
        assert namespaces[0] == "http://opcfoundation.org/UA/" and MACHINE_VISION in namespaces, namespaces
        reject_part, results = await camera_and_reject_part(client)
        assert await reject_part.read_value() is False
        assert await results.get_children() == [], "results before any detection"
        try:
            await reject_part.write_value(False)
            raise AssertionError("an anonymous Write of RejectPart was accepted")
        except ua.UaStatusCodeError as e:
            assert e.code == ua.StatusCodes.BadUserAccessDenied, e
    wrong = Client(url=url, timeout=10)
    wrong.set_user(user)
    wrong.set_password(password + "-wrong")
    try:
        await wrong.connect()
        await wrong.disconnect()
        raise AssertionError("a wrong password was accepted")
    except ua.UaStatusCodeError as e:
        assert e.code == ua.StatusCodes.BadUserAccessDenied, e


class Changes:
    """asyncua's subscription handler: the values of RejectPart as they are published."""

    def __init__(self):
        self.values = asyncio.Queue()

    def datachange_notification(self, node, value, data):
        self.values.put_nowait(value)

    async def until(self, wanted, seconds=30):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"RejectPart was never published as {wanted}"
            if await asyncio.wait_for(self.values.get(), left) == wanted:
                return


async def after(url, user, password):
    client = Client(url=url, timeout=10)
    client.set_user(user)
    client.set_password(password)
    async with client:
        reject_part, results = await camera_and_reject_part(client)
        changes = Changes()
        subscription = await client.create_subscription(100, changes)
        handle = await subscription.subscribe_data_change(reject_part)
        await changes.until(False)
        # ModifyMonitoredItems: the item keeps reporting to its handler after the change.
        modified = await subscription.modify_monitored_item(handle, 250)
        assert [r.StatusCode.is_good() for r in modified] == [True], modified
        print("subscribed", flush=True)
        await changes.until(True)
        assert await reject_part.read_value() is True
        published = await results.get_children()
        assert [(await r.read_browse_name()).Name for r in published] == ["opcua-1"], published
        await reject_part.write_value(False)
        await changes.until(False)
        assert await reject_part.read_value() is False
        await subscription.delete()


def client_certificate(folder, name):
    """An RSA-2048 self-signed application certificate (the URI in its SAN); returns the paths
    of its DER certificate and PEM key, and the DER bytes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(CLIENT_URI), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True, data_encipherment=True,
                          key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    cert_path = os.path.join(folder, f"{name}.der")
    key_path = os.path.join(folder, f"{name}.pem")
    with open(cert_path, "wb") as f:
        f.write(der)
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path, der


def trusted_client_certificate(folder, pki, name):
    cert_path, key_path, der = client_certificate(folder, name)
    with open(os.path.join(pki, "trusted", f"{name}.der"), "wb") as f:
        f.write(der)
    return cert_path, key_path


async def secured_client(url, policy, mode, cert_path, key_path, user=None, password=None):
    client = Client(url=url, timeout=10)
    client.application_uri = CLIENT_URI
    await client.set_security(policy, cert_path, key_path, mode=mode)
    if user is not None:
        client.set_user(user)
        client.set_password(password)
    return client


POLICIES = [SecurityPolicyBasic256Sha256, SecurityPolicyAes128Sha256RsaOaep]
MODES = [ua.MessageSecurityMode.Sign, ua.MessageSecurityMode.SignAndEncrypt]


async def secure(url, user, password, pki):
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = trusted_client_certificate(folder, pki, "secure-client")
        probe = Client(url=url, timeout=10)
        endpoints = await probe.connect_and_get_server_endpoints()
        offered = {(e.SecurityPolicyUri, e.SecurityMode) for e in endpoints}
        for policy in POLICIES:
            for mode in MODES:
                assert (policy.URI, mode) in offered, f"{policy.URI} {mode} not in GetEndpoints: {offered}"
        assert all(e.ServerCertificate for e in endpoints), "an endpoint without the server certificate"
        for policy in POLICIES:
            for mode in MODES:
                endpoint = [e for e in endpoints if e.SecurityPolicyUri == policy.URI and e.SecurityMode == mode][0]
                user_policy = [p for p in endpoint.UserIdentityTokens if p.TokenType == ua.UserTokenType.UserName][0]
                assert user_policy.SecurityPolicyUri == policy.URI, f"the password would not be encrypted: {user_policy}"
                client = await secured_client(url, policy, mode, cert_path, key_path, user, password)
                async with client:
                    status = await client.nodes.server.get_child(["0:ServerStatus"])
                    assert (await status.read_value()).State == ua.ServerState.Running
                    reject_part, _ = await camera_and_reject_part(client)
                    assert await reject_part.read_value() is False
                print(f"connected {policy.URI.split('#')[1]} {mode.name}", flush=True)
                wrong = await secured_client(url, policy, mode, cert_path, key_path, user, password + "-wrong")
                try:
                    await wrong.connect()
                    await wrong.disconnect()
                    raise AssertionError(f"a wrong password was accepted under {policy.URI} {mode}")
                except ua.UaStatusCodeError as e:
                    assert e.code == ua.StatusCodes.BadUserAccessDenied, e


async def untrusted(url, user, password, pki):
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path, der = client_certificate(folder, "stranger")
        client = await secured_client(url, SecurityPolicyBasic256Sha256, ua.MessageSecurityMode.SignAndEncrypt, cert_path, key_path, user, password)
        try:
            await client.connect()
            await client.disconnect()
            raise AssertionError("an untrusted certificate was accepted")
        except (ua.UaError, ConnectionError, asyncio.TimeoutError, OSError) as e:
            print(f"refused: {type(e).__name__} {e}", flush=True)
        rejected = os.path.join(pki, "rejected")
        copies = [f for f in os.listdir(rejected) if open(os.path.join(rejected, f), "rb").read() == der]
        assert copies, f"the refused certificate is not in {rejected}: {os.listdir(rejected)}"


async def renew(url, user, password, pki):
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = trusted_client_certificate(folder, pki, "renewing-client")
        client = await secured_client(url, SecurityPolicyAes128Sha256RsaOaep, ua.MessageSecurityMode.SignAndEncrypt, cert_path, key_path, user, password)
        client.secure_channel_timeout = 10_000
        async with client:
            times = Changes()
            subscription = await client.create_subscription(500, times)
            await subscription.subscribe_data_change(client.get_node(ua.ObjectIds.Server_ServerStatus_CurrentTime))
            tokens = set()
            values = 0
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                await asyncio.wait_for(times.values.get(), 10)
                values += 1
                tokens.add(client.uaclient.protocol._connection.security_token.TokenId)
            assert len(tokens) >= 5, f"the token was renewed only {len(tokens) - 1} times in 2 minutes: {sorted(tokens)}"
            assert values >= 100, f"only {values} values in 2 minutes"
            # Still usable after all the renewals.
            assert (await client.get_node(ua.ObjectIds.Server_ServerStatus_State).read_value()) == ua.ServerState.Running
            await subscription.delete()
            print(f"tokens {sorted(tokens)} values {values}", flush=True)


class Events:
    """asyncua's subscription handler: events as they are published."""

    def __init__(self):
        self.queue = asyncio.Queue()

    def event_notification(self, event):
        self.queue.put_nowait(event)

    async def until(self, result_id, seconds=60):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no event for {result_id}"
            event = await asyncio.wait_for(self.queue.get(), left)
            if getattr(event, "ResultId", None) == result_id:
                return event


def check_result_event(event, camera_node_id):
    fields = event.get_event_props_as_fields_dict()
    assert event.ResultState == 2, fields
    assert event.IsSimulated is False, fields
    assert event.PartId == "PO-4711", fields
    assert event.MeasId, fields
    assert isinstance(event.CreationTime, datetime.datetime), fields
    assert isinstance(event.ResultContent, list) and len(event.ResultContent) == 1, fields
    content = json.loads(event.ResultContent[0])
    for key in ["defect_class", "confidence", "bbox", "asset", "zone", "incident_id", "work_order_reference", "severity", "priority"]:
        assert key in content, f"{key} missing from {content}"
    assert content["defect_class"] == "crack" and content["asset"] == "10004711" and content["incident_id"] == event.MeasId, content
    assert content["bbox"] == {"x": 412, "y": 220, "width": 64, "height": 18}, content
    text = event.Message.Text
    assert text == f"crack on 10004711 at CAM-07, severity {int(content['severity'])}, {content['priority']}", text


async def events(url, user, password, pki):
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = trusted_client_certificate(folder, pki, "events-client")
        client = await secured_client(url, SecurityPolicyAes128Sha256RsaOaep, ua.MessageSecurityMode.SignAndEncrypt, cert_path, key_path, user, password)
        async with client:
            mv = await client.get_namespace_index(MACHINE_VISION)
            result_ready = client.get_node(ua.NodeId(1024, mv))
            camera, _ = await camera_and_reject_part(client)
            camera = await camera.get_parent()
            assert await camera.read_event_notifier() == {ua.EventNotifier.SubscribeToEvents}, await camera.read_event_notifier()
            on_camera, on_server = Events(), Events()
            sub_camera = await client.create_subscription(100, on_camera)
            await sub_camera.subscribe_events(camera, result_ready)
            chosen = ua.EventFilter()
            for ns, name in [(0, "EventType"), (0, "SourceName"), (0, "Message"), (mv, "ResultId"), (mv, "ResultState"), (mv, "IsSimulated"), (mv, "PartId")]:
                clause = ua.SimpleAttributeOperand()
                clause.TypeDefinitionId = ua.NodeId(1024, mv)
                clause.BrowsePath = [ua.QualifiedName(name, ns)]
                clause.AttributeId = ua.AttributeIds.Value
                chosen.SelectClauses.append(clause)
            of_type = ua.ContentFilterElement(FilterOperator=ua.FilterOperator.OfType, FilterOperands=[ua.LiteralOperand(Value=ua.Variant(ua.NodeId(1024, mv)))])
            state = ua.SimpleAttributeOperand(TypeDefinitionId=ua.NodeId(1024, mv), BrowsePath=[ua.QualifiedName("ResultState", mv)], AttributeId=ua.AttributeIds.Value)
            nok = ua.ContentFilterElement(FilterOperator=ua.FilterOperator.Equals,
                                          FilterOperands=[state, ua.LiteralOperand(Value=ua.Variant(2, ua.VariantType.Int32))])
            both = ua.ContentFilterElement(FilterOperator=ua.FilterOperator.And, FilterOperands=[ua.ElementOperand(Index=1), ua.ElementOperand(Index=2)])
            chosen.WhereClause.Elements = [both, of_type, nok]
            sub_server = await client.create_subscription(100, on_server)
            await sub_server.subscribe_events(ua.ObjectIds.Server, result_ready, evfilter=chosen)
            print("subscribed", flush=True)
            event = await on_camera.until("opcua-ev-1")
            check_result_event(event, camera.nodeid)
            server_event = await on_server.until("opcua-ev-1")
            assert server_event.SourceName == "CAM-07" and server_event.ResultState == 2 and server_event.PartId == "PO-4711", server_event
            assert not hasattr(server_event, "MeasId"), "a field not selected was sent"
            await sub_camera.delete()
            await sub_server.delete()


async def main():
    url, phase, user, password = sys.argv[1:5]
    if phase in ("before", "after"):
        await {"before": before, "after": after}[phase](url, user, password)
    else:
        await {"secure": secure, "untrusted": untrusted, "renew": renew, "events": events}[phase](url, user, password, sys.argv[5])
    print(f"ok {phase}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
