// Bench probe, installed in the portal's session viewer page after StampJS
// (internal/testpattern/stamp.js, which defines readStamp and stampAgeMs).
// It reads the painter's frame stamp from every video frame the page presents
// and keeps the glass-to-glass ages, and it snapshots the WebRTC receiver's
// inbound-rtp statistics at the start and end of a window.
//
// window.portholeBench = {
//   install(video, pc, screenWidth, screenHeight)   start watching frames
//   configure(screenWidth, screenHeight)             screen size only (tests)
//   sample(source, sourceWidth, sourceHeight, nowMs) age of one frame via a canvas (tests)
//   sampleFrame(videoFrame, nowMs) -> Promise: age of one YUV VideoFrame (tests)
//   begin()  -> Promise: start a window (clears the ages)
//   end()    -> Promise<result>: close the window
// }
(() => {
  // Only the top band of the screen holds the stamp strip: read no more.
  const bandW = PORTHOLE_STAMP.x + PORTHOLE_STAMP.blocks * PORTHOLE_STAMP.blockSize + 16;
  const bandH = PORTHOLE_STAMP.y + PORTHOLE_STAMP.blockSize + 8;
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d', {willReadFrequently: true});
  const st = {
    video: null, pc: null, screenW: 0, screenH: 0,
    ages: [], unreadable: 0, presented: 0, yuvFrames: 0, lastError: '',
    t0: 0, s0: null,
  };

  // sample draws the stamp band of source (a video or canvas showing the
  // whole screen at sourceWidth x sourceHeight) and returns the age of the
  // frame in ms at nowMs, or throws the reader's "stamp: ..." error.
  function sample(source, sourceWidth, sourceHeight, nowMs) {
    const sx = sourceWidth / (st.screenW || sourceWidth);
    const sy = sourceHeight / (st.screenH || sourceHeight);
    const w = Math.min(sourceWidth, Math.ceil(bandW * sx));
    const h = Math.min(sourceHeight, Math.ceil(bandH * sy));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    g.drawImage(source, 0, 0, w, h, 0, 0, w, h);
    const img = g.getImageData(0, 0, w, h);
    const stamp = readStamp(img, st.screenW || sourceWidth, st.screenH || sourceHeight, sourceWidth, sourceHeight);
    return stampAgeMs(stamp, nowMs);
  }

  // Reading a frame through a canvas makes Chromium (without a GPU) convert
  // the whole frame to RGB: at 1080p that costs more CPU than decoding it.
  // So the probe copies only the stamp band's luma plane out of a VideoFrame
  // and reads it as grey pixels; the canvas path is the fallback for frames
  // that are not in a YUV format (e.g. GPU textures).
  const yuv = new Set(['I420', 'I420A', 'I422', 'I444', 'NV12']);

  // sampleFrame returns (a promise of) the age in ms at nowMs of a YUV
  // VideoFrame showing the whole screen; it does not close the frame.
  async function sampleFrame(frame, nowMs) {
    const vr = frame.visibleRect;
    const sx = vr.width / (st.screenW || vr.width);
    const sy = vr.height / (st.screenH || vr.height);
    const even = (n) => n + (n & 1);
    const w = Math.min(vr.width, even(Math.ceil(bandW * sx)));
    const h = Math.min(vr.height, even(Math.ceil(bandH * sy)));
    const rect = {x: vr.x, y: vr.y, width: w, height: h};
    // Fresh buffers per frame: copies of consecutive frames may overlap.
    const lumaBuf = new Uint8Array(frame.allocationSize({rect}));
    const layout = await frame.copyTo(lumaBuf, {rect});
    const {offset, stride} = layout[0];
    const grey = {width: w, height: h, data: new Uint8ClampedArray(w * h * 4)};
    const d = grey.data;
    // Limited-range BT.601 luma (16..235) to full range, as grey RGB.
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const l = ((lumaBuf[offset + y * stride + x] - 16) * 255) / 219;
        const o = (y * w + x) * 4;
        d[o] = d[o + 1] = d[o + 2] = l;
        d[o + 3] = 255;
      }
    }
    const stamp = readStamp(grey, st.screenW || vr.width, st.screenH || vr.height, vr.width, vr.height);
    return stampAgeMs(stamp, nowMs);
  }

  function record(age) { st.ages.push(age); }
  function fail(e) {
    st.unreadable++;
    st.lastError = String(e && e.message || e);
  }

  // onFrame runs once per frame the compositor presents. "Now" is read first
  // thing in the callback: the frame is on screen (or about to be) by then.
  function onFrame() {
    const now = Date.now();
    const v = st.video;
    v.requestVideoFrameCallback(onFrame);
    st.presented++;
    if (v.videoWidth === 0) return;
    let frame = null;
    try {
      frame = new VideoFrame(v);
    } catch (e) {
      frame = null;
    }
    if (frame && yuv.has(frame.format)) {
      st.yuvFrames++;
      sampleFrame(frame, now).then(record, fail).finally(() => frame.close());
      return;
    }
    if (frame) frame.close();
    try {
      record(sample(v, v.videoWidth, v.videoHeight, now));
    } catch (e) {
      fail(e);
    }
  }

  async function inbound() {
    if (!st.pc) return null;
    const report = await st.pc.getStats();
    let found = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.mediaType === 'video')) found = s;
    });
    return found;
  }

  function num(s, k) { return s && typeof s[k] === 'number' ? s[k] : 0; }

  window.portholeBench = {
    install(video, pc, screenWidth, screenHeight) {
      st.video = video;
      st.pc = pc;
      st.screenW = screenWidth;
      st.screenH = screenHeight;
      video.requestVideoFrameCallback(onFrame);
    },
    configure(screenWidth, screenHeight) {
      st.screenW = screenWidth;
      st.screenH = screenHeight;
    },
    sample,
    sampleFrame,
    async begin() {
      st.s0 = await inbound();
      st.ages = [];
      st.unreadable = 0;
      st.presented = 0;
      st.yuvFrames = 0;
      st.lastError = '';
      st.t0 = performance.now();
    },
    async end() {
      const s1 = await inbound();
      const seconds = (performance.now() - st.t0) / 1000;
      const s0 = st.s0;
      const d = (k) => num(s1, k) - num(s0, k);
      // Stats time stamps are ms; prefer them for rates (they bracket the counters).
      const statsSeconds = s0 && s1 ? (s1.timestamp - s0.timestamp) / 1000 : seconds;
      return {
        seconds,
        stats_seconds: statsSeconds,
        ages: st.ages.slice(),
        unreadable: st.unreadable,
        presented: st.presented,
        yuv_frames: st.yuvFrames,
        last_error: st.lastError,
        has_stats: !!(s0 && s1),
        frames_decoded: d('framesDecoded'),
        frames_dropped: d('framesDropped'),
        bytes_received: d('bytesReceived'),
        total_decode_time: d('totalDecodeTime'),
        jitter_buffer_delay: d('jitterBufferDelay'),
        jitter_buffer_emitted: d('jitterBufferEmittedCount'),
        frame_width: num(s1, 'frameWidth'),
        frame_height: num(s1, 'frameHeight'),
      };
    },
  };
})();
