// A small main for step-ca 0.19, built from Debian's packaged sources
// (golang-github-smallstep-certificates-dev): `step-ca CONFIG --password-file FILE` runs the CA
// through its commands package, as upstream's cmd/step-ca does; `step-ca bench-init DIR N`
// (init.go) writes a PKI, a configuration and N client identities for bench/renewal.ts.
package main

import (
	"fmt"
	"os"

	"github.com/smallstep/certificates/commands"
	"github.com/urfave/cli"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bench-init" {
		if err := benchInit(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench-init:", err)
			os.Exit(1)
		}
		return
	}
	app := cli.NewApp()
	app.Name = "step-ca"
	app.Usage = "step-ca 0.19 (Debian's sources) for bench/renewal.ts"
	app.UsageText = "step-ca <config> [--password-file FILE]"
	app.Flags = commands.AppCommand.Flags
	app.Action = commands.AppCommand.Action
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
