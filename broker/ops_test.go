package broker

import (
	"errors"
	"testing"
)

// TestMetricsListenDeniedWithoutToken: a metrics listener other machines
// can reach needs a token; loopback ones and tokened ones are bound.
func TestMetricsListenDeniedWithoutToken(t *testing.T) {
	for _, tc := range []struct {
		listen, token string
		ok            bool
	}{
		{"", "", true},
		{"127.0.0.1:0", "", true},
		{"localhost:0", "", true},
		{"[::1]:0", "", true},
		{"0.0.0.0:0", "", false},
		{":0", "", false},
		{"0.0.0.0:0", "tok", true},
	} {
		ln, err := listenMetrics(Config{MetricsListen: tc.listen, MetricsToken: tc.token})
		if ln != nil {
			ln.Close()
		}
		if tc.ok && err != nil {
			t.Errorf("%q token %q: %v", tc.listen, tc.token, err)
		}
		if !tc.ok && !errors.Is(err, ErrMetricsToken) {
			t.Errorf("%q without a token: %v", tc.listen, err)
		}
	}
}
