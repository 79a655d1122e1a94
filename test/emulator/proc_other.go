//go:build !linux

package main

import "syscall"

// dieWithParent has no kernel support outside Linux: a crashed emulator leaves its servers running.
func dieWithParent(*syscall.SysProcAttr) {}
