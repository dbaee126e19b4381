package capture

import (
	"image"
	"slices"

	"porthole/internal/wire"
)

// sortDisplays puts the primary first, then the others left to right and
// top to bottom, and numbers them.
func sortDisplays(ds []wire.Display) {
	slices.SortStableFunc(ds, func(a, b wire.Display) int {
		switch {
		case a.Primary != b.Primary:
			if a.Primary {
				return -1
			}
			return 1
		case a.X != b.X:
			return a.X - b.X
		}
		return a.Y - b.Y
	})
	for i := range ds {
		ds[i].Index = i
	}
}

// DisplayRect is display d's area in the coordinates of the whole screen:
// the X screen on Linux, the virtual desktop on Windows.
func DisplayRect(d wire.Display) image.Rectangle {
	return image.Rect(d.X, d.Y, d.X+d.Width, d.Y+d.Height)
}
