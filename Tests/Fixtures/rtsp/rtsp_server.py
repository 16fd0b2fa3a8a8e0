"""A test RTSP server on loopback, from Debian's GStreamer (gir1.2-gst-rtsp-server-1.0,
python3-gi, gstreamer1.0-plugins-base/good). It streams generated frames (videotestsrc's
moving ball) as Motion JPEG over RTP at /cam, and prints "ready rtsp://127.0.0.1:PORT/cam"
once it listens. Run it with Debian's /usr/bin/python3: python3-gi is a Debian package.

Usage: /usr/bin/python3 rtsp_server.py PORT
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = ("( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=5/1 "
            "! jpegenc quality=80 ! rtpjpegpay name=pay0 pt=26 )")


def main() -> None:
    port = int(sys.argv[1])
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print(f"ready rtsp://127.0.0.1:{port}/cam", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
