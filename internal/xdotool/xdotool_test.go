package xdotool

import (
	"regexp"
	"testing"
)

func TestTitleRegexp(t *testing.T) {
	for _, tc := range []struct {
		title string
		match []string
		miss  []string
	}{
		{"Porthole probe", []string{"Porthole probe"}, []string{"Porthole probe 2", "A Porthole probe", "Porthole"}},
		{"Allow (y/n)? [1.2]", []string{"Allow (y/n)? [1.2]"}, []string{"Allow y/n [1x2]", "Allow (y/n)? [1.2] "}},
		{`a\b|c^$*+{}`, []string{`a\b|c^$*+{}`}, []string{"a", "c"}},
	} {
		re := regexp.MustCompile(TitleRegexp(tc.title))
		for _, s := range tc.match {
			if !re.MatchString(s) {
				t.Errorf("TitleRegexp(%q) does not match %q", tc.title, s)
			}
		}
		for _, s := range tc.miss {
			if re.MatchString(s) {
				t.Errorf("TitleRegexp(%q) matches %q", tc.title, s)
			}
		}
	}
}
