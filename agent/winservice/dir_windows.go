package winservice

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// ProtectDir gives dir the DACL of StateDirSDDL, protected from
// inheritance; the ACEs propagate to what is inside already.
func ProtectDir(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(StateDirSDDL)
	if err != nil {
		return fmt.Errorf("state dir security descriptor: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("state dir DACL: %w", err)
	}
	if err := windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		return fmt.Errorf("protect %s: %w", dir, err)
	}
	return nil
}
