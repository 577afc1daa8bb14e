package main

import (
	"context"
	"errors"
	"io"
)

var errNotYet = errors.New("not built yet")

func maintDraft(ctx context.Context, args []string, stdout, stderr io.Writer) error { return errNotYet }
func maintNotice(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errNotYet
}
func maintExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errNotYet
}
func maintImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errNotYet
}
func cmdUser(ctx context.Context, args []string, stdout, stderr io.Writer) error { return errNotYet }
func cmdOperator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errNotYet
}
func cmdVault(ctx context.Context, args []string, stdout, stderr io.Writer) error   { return errNotYet }
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error { return errNotYet }
