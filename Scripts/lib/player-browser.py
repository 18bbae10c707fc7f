#!/usr/bin/python3
"""Opens the live player page in headless Chromium over the DevTools protocol,
for Tests/StreampointTests/PlayerBrowserTests (and the streampoint's end-to-end
tests). Reuses console-browser.py's Chromium driver.

  player-browser.py --play URL --out DIR [--unsupported URL]
                    [--accept-cert PEM | --ignore-certificate-errors]

--play: a player page whose stream the browser can decode. Waits (bounded) until
the video has decoded >= 50 frames, reads video.currentTime twice a second
apart, the page's codec/resolution/latency/state, and takes a screenshot of the
video element (DIR/player.png).
--unsupported: a player page announcing a codec the browser cannot play; waits
for the page's state "unsupported" and reads its message (DIR/unsupported.png).
--accept-cert: an https player page whose server certificate (PEM, e.g. from
the test PKI) Chromium accepts by its public key, for the page and its wss
stream alike, while every other certificate error still counts;
--ignore-certificate-errors accepts any certificate.
Prints one JSON object; the Swift test judges it. Exit status 2 with a message
on stderr when Chromium cannot be started or driven.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time

_spec = importlib.util.spec_from_file_location("console_browser", os.path.join(os.path.dirname(os.path.abspath(__file__)), "console-browser.py"))
console_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(console_browser)
websocket = console_browser.websocket

PAGE_STATE = """(() => ({
  state: document.body.dataset.state,
  codec: document.querySelector('#codec').textContent,
  resolution: document.querySelector('#resolution').textContent,
  latency: document.querySelector('#latency').textContent,
  status: document.querySelector('#status').textContent,
  message: document.querySelector('#message').hidden ? '' : document.querySelector('#message').textContent,
  currentTime: document.querySelector('#video').currentTime,
  paused: document.querySelector('#video').paused,
  muted: document.querySelector('#video').muted,
  videoWidth: document.querySelector('#video').videoWidth,
  videoHeight: document.querySelector('#video').videoHeight,
  totalVideoFrames: document.querySelector('#video').getVideoPlaybackQuality().totalVideoFrames,
  droppedVideoFrames: document.querySelector('#video').getVideoPlaybackQuality().droppedVideoFrames,
}))()"""

VIDEO_RECT = """(() => { const r = document.querySelector('#video').getBoundingClientRect();
  return { x: r.x, y: r.y, width: r.width, height: r.height }; })()"""


def screenshot_of_video(page, path):
    rect = page.evaluate(VIDEO_RECT)
    data = page.call("Page.captureScreenshot", format="png",
                     clip={"x": rect["x"], "y": rect["y"], "width": rect["width"], "height": rect["height"], "scale": 1})["data"]
    with open(path, "wb") as out:
        out.write(console_browser.base64.b64decode(data))
    return path


def gray_statistics(png):
    """Distinct grey levels and their standard deviation: a flat colour has few and ~0."""
    pixels = console_browser.subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", png, "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True, capture_output=True, timeout=30).stdout
    if not pixels:
        return {"distinct": 0, "deviation": 0.0}
    mean = sum(pixels) / len(pixels)
    variance = sum((p - mean) ** 2 for p in pixels) / len(pixels)
    return {"distinct": len(set(pixels)), "deviation": variance ** 0.5}


def certificate_arguments(args):
    """Chromium flags that make it accept the test server's certificate."""
    if args.ignore_certificate_errors:
        return ["--ignore-certificate-errors"]
    if not args.accept_cert:
        return []
    # Chromium pins by base64(SHA-256(SubjectPublicKeyInfo)).
    spki = console_browser.subprocess.run(
        ["openssl", "x509", "-in", args.accept_cert, "-noout", "-pubkey"], check=True, capture_output=True, timeout=30).stdout
    der = console_browser.subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"], input=spki, check=True, capture_output=True, timeout=30).stdout
    digest = console_browser.base64.b64encode(hashlib.sha256(der).digest()).decode()
    return [f"--ignore-certificate-errors-spki-list={digest}"]


def run(args):
    binary = console_browser.find_chromium()
    if not binary:
        raise SystemExit("player-browser: chromium is not installed (apt-get install chromium)")
    os.makedirs(args.out, exist_ok=True)
    seen = {}
    profile = tempfile.mkdtemp(prefix="player-chromium-")
    process = None
    try:
        process, browser_ws = console_browser.start_chromium(binary, profile, certificate_arguments(args))
        page = console_browser.Page(console_browser.page_socket(browser_ws))
        page.call("Page.enable")
        page.call("Runtime.enable")

        page.call("Page.navigate", url=args.play)
        try:
            page.wait_for("document.querySelector('#video') && document.querySelector('#video')"
                          ".getVideoPlaybackQuality().totalVideoFrames >= 50", "50 decoded frames", timeout=30)
        except RuntimeError as error:
            raise RuntimeError(f"{error}; the page: {json.dumps(page.evaluate(PAGE_STATE))}")
        first = page.evaluate(PAGE_STATE)
        time.sleep(1.0)
        second = page.evaluate(PAGE_STATE)
        seen["play"] = second
        seen["currentTimes"] = [first["currentTime"], second["currentTime"]]
        seen["playScreenshot"] = screenshot_of_video(page, os.path.join(args.out, "player.png"))
        seen["playScreenshotGray"] = gray_statistics(seen["playScreenshot"])

        if args.unsupported:
            page.call("Page.navigate", url=args.unsupported)
            try:
                page.wait_for("document.body && document.body.dataset.state === 'unsupported'", "the unsupported-codec message", timeout=20)
            except RuntimeError as error:
                raise RuntimeError(f"{error}; the page: {json.dumps(page.evaluate(PAGE_STATE))}")
            seen["unsupported"] = page.evaluate(PAGE_STATE)
            seen["unsupportedScreenshot"] = page.screenshot(os.path.join(args.out, "unsupported.png"))
    finally:
        if process:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(seen))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--play", required=True)
    parser.add_argument("--unsupported")
    parser.add_argument("--out", required=True)
    certificates = parser.add_mutually_exclusive_group()
    certificates.add_argument("--accept-cert", help="PEM certificate of an https player page to accept")
    certificates.add_argument("--ignore-certificate-errors", action="store_true")
    args = parser.parse_args()
    try:
        run(args)
    except (RuntimeError, OSError, websocket.WebSocketException, console_browser.subprocess.SubprocessError) as error:
        print(f"player-browser: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
