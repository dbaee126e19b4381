package benchrig

import (
	"context"
	"fmt"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// InputRow is remote-control latency for one size: from dispatching a
// pointer move into the page (CDP, the way a real mouse event arrives) to
// the X server reporting the pointer at the matching screen position,
// through input.js, the data channel, the broker's filter and the agent's
// injector (robotgo; SendInput under Wine).
type InputRow struct {
	Agent    string
	Size     Size
	Events   int
	Lost     int // moves never seen on the display within a second
	P50, P95 float64
}

// inputEvents is how many moves one measurement sends (the issue asks for ≥ 200).
const inputEvents = 250

// measureInput moves the pointer n times over the live viewer and times
// each move until XQueryPointer sees it.
func measureInput(ctx context.Context, st *stack, br *browser, n int) (InputRow, error) {
	row := InputRow{Agent: st.agentKind.name, Size: st.size}
	conn, err := xgb.NewConnDisplay(st.x.Display)
	if err != nil {
		return row, fmt.Errorf("input bench: X: %w", err)
	}
	defer conn.Close()
	root := xproto.Setup(conn).DefaultScreen(conn).Root

	// Where the video's pixels are in the page (object-fit: contain).
	var geo struct{ Left, Top, Scale float64 }
	err = br.eval(5*time.Second, `(() => { const v = document.getElementById('remote-video'); v.focus();
	  const r = v.getBoundingClientRect(); const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
	  return {Left: r.left + (r.width - v.videoWidth * s) / 2, Top: r.top + (r.height - v.videoHeight * s) / 2, Scale: s}; })()`, &geo)
	if err != nil || geo.Scale <= 0 {
		return row, fmt.Errorf("input bench: video geometry: %v", err)
	}
	var lat []float64
	for i := range n {
		if err := ctx.Err(); err != nil {
			return row, err
		}
		// Distinct targets on a grid away from the screen's centre.
		x := 40 + (i*97)%(st.size.W/2-80)
		y := 40 + (i*53)%(st.size.H/3)
		cx, cy := geo.Left+(float64(x)+0.5)*geo.Scale, geo.Top+(float64(y)+0.5)*geo.Scale
		t0 := time.Now()
		if err := br.do(5*time.Second, chromedp.MouseEvent(chromedp.MouseMoved, cx, cy)); err != nil {
			return row, fmt.Errorf("input bench: dispatch: %w", err)
		}
		seen := false
		for time.Since(t0) < time.Second {
			p, err := xproto.QueryPointer(conn, root).Reply()
			if err != nil {
				return row, fmt.Errorf("input bench: query pointer: %w", err)
			}
			if abs(int(p.RootX)-x) <= 1 && abs(int(p.RootY)-y) <= 1 {
				seen = true
				break
			}
			time.Sleep(250 * time.Microsecond)
		}
		if seen {
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		} else {
			row.Lost++
		}
		time.Sleep(25 * time.Millisecond) // past input.js's 8 ms move coalescing
	}
	row.Events = len(lat)
	row.P50, row.P95 = percentile(lat, 50), percentile(lat, 95)
	return row, nil
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
