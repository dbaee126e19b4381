// Package dialogwire is the line protocol between the Windows dialogs' Wine
// test (agent/consent/wine_linux_test.go) and the Windows program it runs,
// testdata/dialogprobe: one JSON Command per line on the program's stdin, one
// JSON Reply per line on its stdout. The operations are listed in the
// program's documentation.
package dialogwire

// Command asks dialogprobe to do Op.
type Command struct {
	Op        string   `json:"op"`
	Requester string   `json:"requester,omitempty"`
	ViewOnly  bool     `json:"view_only,omitempty"`
	TimeoutMS int      `json:"timeout_ms,omitempty"`
	Text      string   `json:"text,omitempty"`
	Fields    []string `json:"fields,omitempty"`
	Title     string   `json:"title,omitempty"`
}

// Reply is what an Op returned. Err names the error (ErrCancelled,
// context.Canceled, …) or gives its text; empty means none.
type Reply struct {
	Op     string   `json:"op"`
	Answer string   `json:"answer,omitempty"`
	Values []string `json:"values,omitempty"`
	Texts  []string `json:"texts,omitempty"`
	Err    string   `json:"err"`
	Leaks  string   `json:"leaks,omitempty"`
}
