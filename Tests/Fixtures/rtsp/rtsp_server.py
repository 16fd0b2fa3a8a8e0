"""A test RTSP server on loopback, from Debian's GStreamer (gir1.2-gst-rtsp-server-1.0,
python3-gi, gstreamer1.0-plugins-base/good). It streams Motion JPEG over RTP at /cam, and
prints "ready rtsp://127.0.0.1:PORT/cam" once it listens. Run it with Debian's /usr/bin/python3:
python3-gi is a Debian package.

Without options it streams videotestsrc's moving ball (320x240, 5 frames/s).

With --frames DIR it streams the JPEG files DIR/good-*.jpg in turn (5 frames/s), and, once
--defect-after SECONDS of stream have been sent, DIR/crack-*.jpg instead, printing "defect
from frame N" when it switches. `millwright demo --export-frames DIR` writes such frames of a
conveyor view. The switch counts frames sent, not wall time, so a slow machine changes nothing.

Usage: /usr/bin/python3 rtsp_server.py PORT [--frames DIR [--defect-after SECONDS]]
"""
import argparse
import glob
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

FPS = 5
BALL = ("( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=5/1 "
        "! jpegenc quality=80 ! rtpjpegpay name=pay0 pt=26 )")
# The files are decoded and encoded again, so whatever JPEG flavour they are, the payloader
# gets what RFC 2435 can carry.
FILES = ("( appsrc name=src is-live=true format=time caps=image/jpeg,framerate=5/1 "
         "! jpegdec ! videoconvert ! video/x-raw,format=I420 ! jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26 )")


class Frames:
    """The frames to send, and how many have been sent (across clients: the scene goes on)."""

    def __init__(self, folder: str, defect_after: float) -> None:
        def load(pattern: str) -> list:
            out = []
            for path in sorted(glob.glob(os.path.join(folder, pattern))):
                with open(path, "rb") as f:
                    out.append(f.read())
            return out
        self.good = load("good-*.jpg")
        self.defect = load("crack-*.jpg")
        if not self.good:
            sys.exit(f"no good-*.jpg in {folder}")
        self.defect_from = int(defect_after * FPS) if self.defect else None
        self.sent = 0

    def next(self) -> bytes:
        n = self.sent
        self.sent += 1
        if self.defect_from is not None and n >= self.defect_from:
            if n == self.defect_from:
                print(f"defect from frame {n}", flush=True)
            return self.defect[n % len(self.defect)]
        return self.good[n % len(self.good)]


def configure(frames: Frames):
    duration = Gst.SECOND // FPS

    def media_configure(_factory, media) -> None:
        src = media.get_element().get_child_by_name("src")
        state = {"pts": 0}

        def need_data(appsrc, _length) -> None:
            buf = Gst.Buffer.new_wrapped(frames.next())
            buf.pts = buf.dts = state["pts"] * duration
            buf.duration = duration
            state["pts"] += 1
            appsrc.emit("push-buffer", buf)

        src.connect("need-data", need_data)
    return media_configure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--frames")
    parser.add_argument("--defect-after", type=float, default=10.0)
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    if args.frames:
        factory.set_launch(FILES)
        factory.connect("media-configure", configure(Frames(args.frames, args.defect_after)))
    else:
        factory.set_launch(BALL)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    print(f"ready rtsp://127.0.0.1:{args.port}/cam", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
