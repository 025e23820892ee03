// Command nexus-ferretdb runs FerretDB with its SQLite backend as the MongoDB-wire test server.
//
// It starts FerretDB through its public embedding package rather than FerretDB's own cmd/ferretdb,
// which panics at start when built from the module cache (its build/version files are absent).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "plain TCP listen address (empty disables it)")
	listenTLS := flag.String("listen-tls", "", "TLS listen address (empty disables it)")
	certFile := flag.String("tls-cert", "", "server certificate (PEM) for the TLS listener")
	keyFile := flag.String("tls-key", "", "server private key (PEM) for the TLS listener")
	caFile := flag.String("tls-ca", "", "CA (PEM) that client certificates must chain to (optional)")
	dataDir := flag.String("data-dir", "", "directory of the SQLite databases (required)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "nexus-ferretdb: --data-dir is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "nexus-ferretdb: %v\n", err)
		os.Exit(1)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "nexus-ferretdb: --log-level: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{
			TCP:         *listen,
			TLS:         *listenTLS,
			TLSCertFile: *certFile,
			TLSKeyFile:  *keyFile,
			TLSCAFile:   *caFile,
		},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "nexus-ferretdb: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info("listening", "tcp", *listen, "tls", *listenTLS, "data", *dataDir)
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "nexus-ferretdb: %v\n", err)
		os.Exit(1)
	}
}
