"""Plays a file of a published folder in headless Chromium (Debian's, driven by selenium) and prints what the page saw.

Usage: play_in_chromium.py FOLDER FILE [TIMEOUT_SECONDS]
Serves FOLDER on loopback with HLS's MIME types, opens a page whose <video> plays FILE (muted, autoplay), and prints
JSON: whether it reached `ended`, its duration and size, and the audio bytes Chromium decoded
(`webkitAudioDecodedByteCount`) over time, so a caller can tell the sound played to the end.
"""
import functools
import http.server
import json
import sys
import threading
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

folder, media = sys.argv[1], sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 90

PAGE = f"""<!doctype html><meta charset=utf-8><title>play</title>
<video id=v muted autoplay playsinline src="{media}"></video>
<script>
const v = document.getElementById('v');
window.report = {{ended: false, samples: [], error: null}};
v.addEventListener('ended', () => {{ window.report.ended = true; sample(); }});
v.addEventListener('error', () => {{ window.report.error = String(v.error && v.error.message || v.error && v.error.code); }});
function sample() {{
  window.report.samples.push([v.currentTime, v.webkitAudioDecodedByteCount || 0, v.webkitVideoDecodedByteCount || 0]);
  window.report.duration = v.duration; window.report.width = v.videoWidth; window.report.height = v.videoHeight;
}}
setInterval(sample, 100);
</script>"""


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".m3u8": "application/vnd.apple.mpegurl",
                      ".m4s": "video/iso.segment", ".mp4": "video/mp4"}

    def do_GET(self):
        if self.path.startswith("/__play.html"):
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
threading.Thread(target=server.serve_forever, daemon=True).start()
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--disable-gpu",
                 "--disable-dev-shm-usage"):
    options.add_argument(argument)
driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
try:
    driver.get(f"http://127.0.0.1:{server.server_address[1]}/__play.html")
    deadline = time.monotonic() + timeout
    report = {}
    while time.monotonic() < deadline:
        report = driver.execute_script("return window.report")
        if report and (report["ended"] or report["error"]):
            break
        time.sleep(0.2)
    print(json.dumps(report))
finally:
    driver.quit()
    server.shutdown()
