/*
 * A test-only stand-in for bcryptprimitives.dll, for Wine 8 only.
 *
 * Go >= 1.22 on Windows draws its random numbers from ProcessPrng in
 * bcryptprimitives.dll, which Wine 8.0 does not implement, so every Go
 * exe dies at start ("bcryptprimitives.dll not found"). This DLL exports
 * ProcessPrng and fills the buffer from RtlGenRandom (SystemFunction036 in
 * advapi32), which Wine does implement. The harness in internal/wine builds
 * it with mingw, copies it into a test prefix's system32 and runs with
 * WINEDLLOVERRIDES=bcryptprimitives=n. Real Windows 10/11 ship the real DLL:
 * nothing of this is ever shipped with the agent.
 */
#include <windows.h>

/* RtlGenRandom takes a ULONG length, so larger requests go in chunks. */
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst;
	(void)reason;
	(void)reserved;
	return TRUE;
}
