// Package inputtest holds the browser tests of the viewer's remote-control
// module (webclient/static/input.js): they drive real headless Chromium
// against a small test page and check every message it sends with
// wire.DecodeInput, so the page and the broker/agent cannot drift apart.
package inputtest
