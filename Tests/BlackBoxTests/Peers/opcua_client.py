"""An independent OPC UA client (python asyncua) against `millwright serve`, run by OPCUATests.swift.

Usage: opcua_client.py URL PHASE USER PASSWORD
  before: anonymous session; browses Objects to the CAM-07 VisionSystem object, reads
          ServerStatus and RejectPart (false); a UserName login with a wrong password must
          fail with BadUserAccessDenied; an anonymous Write of RejectPart is refused.
  after:  UserName session; subscribes to RejectPart's data changes, prints "subscribed" once
          the first value (false) is published, waits (with a deadline) for true to be
          published, finds the detection under ResultManagement/Results, writes RejectPart
          false and waits for false to be published.
Prints one line "ok <phase>" on success; anything else exits non-zero with the reason.
"""
import asyncio
import sys
import time

from asyncua import Client, ua

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
        await subscription.subscribe_data_change(reject_part)
        await changes.until(False)
        print("subscribed", flush=True)
        await changes.until(True)
        assert await reject_part.read_value() is True
        published = await results.get_children()
        assert [(await r.read_browse_name()).Name for r in published] == ["opcua-1"], published
        await reject_part.write_value(False)
        await changes.until(False)
        assert await reject_part.read_value() is False
        await subscription.delete()


async def main():
    url, phase, user, password = sys.argv[1:5]
    await {"before": before, "after": after}[phase](url, user, password)
    print(f"ok {phase}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
