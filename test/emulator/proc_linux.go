package main

import "syscall"

// dieWithParent has the kernel send SIGQUIT (PostgreSQL's immediate shutdown, which takes its backends
// along) to the process when the emulator dies, even by SIGKILL, so a crash leaves no server behind.
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGQUIT }
