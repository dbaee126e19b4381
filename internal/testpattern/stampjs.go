package testpattern

import _ "embed"

// StampJS is the browser-side reader of the frame stamp: a plain script (no
// module syntax) that defines readStamp(imageData, width, height[,
// canvasWidth, canvasHeight]), stampAgeMs(stamp[, nowMs]) and the constants
// PORTHOLE_STAMP and PORTHOLE_PATCHES, decoding exactly as DecodeStamp does.
// The bench and e2e pages embed it so that both sides read one documented layout.
//
//go:embed stamp.js
var StampJS string
