// Package metricstest reads a /metrics scrape the way Prometheus does, for
// tests.
package metricstest

import (
	"strings"
	"testing"

	"porthole/broker/metrics"
)

// Parse is metrics.ParseText for tests: a body Prometheus's parser rejects
// fails the test.
func Parse(t testing.TB, body string) map[string]float64 {
	t.Helper()
	m, err := metrics.ParseText(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return m
}
