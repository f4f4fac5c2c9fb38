// Command gosym names the functions of a stripped Go binary's addresses, from its .gopclntab (the
// table Go keeps for its own stack traces). The Temporal CLI ships stripped, so perf cannot name its
// frames; bench/server-profile.ts pipes perf's addresses through this, one hex offset a line, and
// reads back "offset<TAB>function" (perf prints the frames it cannot name as offsets into the file).
package main

import (
	"bufio"
	"debug/elf"
	"debug/gosym"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gosym <go-binary> < file-offsets")
		os.Exit(2)
	}
	f, err := elf.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	pcln := f.Section(".gopclntab")
	text := f.Section(".text")
	if pcln == nil || text == nil {
		panic("not a Go binary: no .gopclntab or .text")
	}
	data, err := pcln.Data()
	if err != nil {
		panic(err)
	}
	table, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		panic(err)
	}
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		addr := strings.TrimSpace(in.Text())
		name := "?"
		if pc, err := strconv.ParseUint(strings.TrimPrefix(addr, "0x"), 16, 64); err == nil {
			// perf prints a frame it could not name as an offset into the file: back to an address.
			pc += text.Addr - text.Offset
			if fn := table.PCToFunc(pc); fn != nil {
				name = fn.Name
			}
		}
		fmt.Fprintf(out, "%s\t%s\n", addr, name)
	}
}
