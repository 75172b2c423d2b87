// Command gitserver serves the bare Git repositories under a directory over smart
// HTTP on loopback, creating a repository on its first push. It is the Git host of
// Accord's GitOps end-to-end tests, built on Flux's own test Git server library.
//
// The first line it prints is the base URL; repositories live under it by path.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/fluxcd/gitkit"
)

func main() {
	root := flag.String("root", "", "directory holding the bare repositories")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	if *root == "" {
		log.Fatal("--root is required")
	}
	service := gitkit.New(gitkit.Config{Dir: *root, AutoCreate: true})
	if err := service.Setup(); err != nil {
		log.Fatalf("cannot serve %s: %v", *root, err)
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("cannot listen on %s: %v", *addr, err)
	}
	fmt.Printf("http://%s\n", listener.Addr())
	_ = os.Stdout.Sync()
	log.Fatal(http.Serve(listener, service))
}
