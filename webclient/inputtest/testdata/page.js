// page.js: the test page of input.js. It plays a 1280x720 canvas stream in
// #remote-video, attaches input with a send that records every message, and
// records which key events input.js cancelled.
import { attachInput } from '/static/input.js';

const layout = new URLSearchParams(location.search).get('layout') || 'contain';
document.body.className = layout;

const canvas = document.createElement('canvas');
canvas.width = 1280;
canvas.height = 720;
const g = canvas.getContext('2d');
let n = 0;
function draw() {
  g.fillStyle = n++ % 2 ? '#246' : '#468';
  g.fillRect(0, 0, canvas.width, canvas.height);
}
draw();
setInterval(draw, 50);

const video = document.getElementById('remote-video');
video.srcObject = canvas.captureStream(30);

window.sent = [];
window.notices = [];
window.prevented = [];
window.allowed = [];
window.contextMenuPrevented = null;
// Bubbling listeners on window run after input.js's listeners on the video.
for (const type of ['keydown', 'keyup']) {
  window.addEventListener(type, (e) => {
    (e.defaultPrevented ? window.prevented : window.allowed).push(`${type}:${e.code}`);
  });
}
window.addEventListener('contextmenu', (e) => { window.contextMenuPrevented = e.defaultPrevented; });

function init() {
  if (window.ctl || !video.videoWidth) return;
  window.ctl = attachInput(video, (s) => window.sent.push({ s, at: performance.now() }), {
    onNotice: (m) => window.notices.push(m),
  });
  window.ready = `${video.videoWidth}x${video.videoHeight}`;
}
video.addEventListener('resize', init);
video.addEventListener('loadedmetadata', init);
