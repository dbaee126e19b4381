//go:build windows

// Command wininput is a probe of the Windows input injector for tests under
// Wine (see wine_linux_test.go): it makes an input.SendInput for the
// displays given as JSON in its argument and injects the wire.Input events
// it reads from stdin, one JSON object a line, answering each with a line
// "ok" or "error: …".
//
//	wininput '[{"index":0,"x":0,"y":0,"width":1280,"height":720,"primary":true}]'
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"porthole/agent/input"
	"porthole/internal/wire"
)

func main() {
	var displays []wire.Display
	if len(os.Args) != 2 || json.Unmarshal([]byte(os.Args[1]), &displays) != nil {
		fmt.Fprintln(os.Stderr, "usage: wininput DISPLAYS-JSON")
		os.Exit(2)
	}
	inj, err := input.NewSendInput(input.Config{Displays: displays})
	if err != nil {
		fmt.Fprintln(os.Stderr, "wininput:", err)
		os.Exit(1)
	}
	defer inj.Close()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var ev wire.Input
		err := json.Unmarshal(sc.Bytes(), &ev)
		if err == nil {
			err = inj.Inject(context.Background(), ev)
		}
		if err != nil {
			fmt.Println("error:", err)
		} else {
			fmt.Println("ok")
		}
	}
}
