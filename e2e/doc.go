// Package e2e holds the end-to-end tests: a real broker and real agents in
// one process over 127.0.0.1, and headless Chromium driving the portal.
package e2e
