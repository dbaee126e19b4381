// Frame stamp reader for porthole's test pattern (internal/testpattern).
// Plain script, no module syntax, so it can be pasted into a <script> tag, an
// ES module or a chromedp Evaluate. It must stay consistent with decode.go:
// same layout constants, same 3x3 sampling, same integer luma, same thresholds.

const PORTHOLE_STAMP = Object.freeze({
  blockSize: 24, bits: 32, blocks: 34, x: 16, y: 16,
  lumaOne: 176, lumaZero: 80,
});

// PORTHOLE_PATCHES are the colour patches (Patches in Go), in screen pixels;
// sample each at its centre (x + w/2, y + h/2) scaled like readStamp scales.
const PORTHOLE_PATCHES = Object.freeze([
  {name: 'red', x: 16, y: 64, w: 160, h: 160, rgb: [255, 0, 0]},
  {name: 'green', x: 208, y: 64, w: 160, h: 160, rgb: [0, 255, 0]},
  {name: 'blue', x: 400, y: 64, w: 160, h: 160, rgb: [0, 0, 255]},
  {name: 'white', x: 592, y: 64, w: 160, h: 160, rgb: [255, 255, 255]},
]);

// readStamp decodes the stamp from a canvas ImageData.
//   imageData:    pixels read from the canvas starting at its (0,0); it may be
//                 cropped (e.g. only the top rows) as long as it holds the strip.
//   width/height: the screen's size in X pixels (video.videoWidth/videoHeight);
//                 default: the canvas size, i.e. shown at 1:1.
//   canvasWidth/canvasHeight: the size at which the whole screen is drawn on the
//                 canvas; default imageData.width/height (an uncropped read).
// The layout is scaled by canvasWidth/width and canvasHeight/height.
// Returns the stamp (uint32 as a Number); throws an Error whose message starts
// with "stamp:" when it is unreadable.
function readStamp(imageData, width, height, canvasWidth, canvasHeight) {
  const S = PORTHOLE_STAMP;
  const cw = canvasWidth || imageData.width;
  const ch = canvasHeight || imageData.height;
  const sx = cw / (width || cw);
  const sy = ch / (height || ch);
  const data = imageData.data;
  const stride = imageData.width;
  const offs = [-S.blockSize / 4, 0, S.blockSize / 4];
  let v = 0;
  for (let i = 0; i < S.blocks; i++) {
    const cx = S.x + i * S.blockSize + S.blockSize / 2;
    const cy = S.y + S.blockSize / 2;
    let sum = 0;
    for (const dy of offs) {
      for (const dx of offs) {
        const px = Math.floor((cx + dx + 0.5) * sx);
        const py = Math.floor((cy + dy + 0.5) * sy);
        if (px < 0 || py < 0 || px >= imageData.width || py >= imageData.height) {
          throw new Error('stamp: strip outside the image');
        }
        const o = (py * stride + px) * 4;
        sum += Math.floor((299 * data[o] + 587 * data[o + 1] + 114 * data[o + 2]) / 1000);
      }
    }
    const l = Math.floor(sum / 9);
    let one;
    if (l >= S.lumaOne) one = true;
    else if (l <= S.lumaZero) one = false;
    else throw new Error('stamp: block ' + i + ' has luma ' + l + ', neither black nor white');
    if (i === 0 || i === S.blocks - 1) {
      if (!one) throw new Error('stamp: guard block ' + i + ' is not white');
    } else {
      v = v * 2 + (one ? 1 : 0);
    }
  }
  return v;
}

// stampAgeMs returns how many milliseconds before nowMs (default Date.now())
// the frame carrying stamp was painted: the glass-to-glass latency when the
// painter and the browser share a clock. Computed modulo 2^32 like Age in Go,
// so it is negative only for a frame from the future.
function stampAgeMs(stamp, nowMs) {
  const now = Math.floor(nowMs === undefined ? Date.now() : nowMs);
  return ((now % 4294967296) - stamp) | 0;
}
