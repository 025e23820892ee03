// RunPlugin for the Node.js language host built from sdk/v3@v3.68.0 (see scripts/bootstrap.sh).
//
// Since v3.1xx the CLI runs a Node.js policy pack (`pulumi preview --policy-pack DIR`) through the
// language host's RunPlugin whenever a `nodejs` language plugin is installed, and only falls back
// to a `pulumi-analyzer-policy-nodejs` executable when none is. The v3.68 host answers RunPlugin
// with "not supported", so policy packs could not start. This file replaces that stub: it starts
// `@pulumi/pulumi/cmd/run-policy-pack` (shipped in the npm package, resolved from the pack's
// directory) with the engine address and the pack, as the newer hosts and the old shim do.
//
// The pack's directory arrives in RunPluginRequest.info (field 5, a ProgramInfo whose field 2 is
// program_directory), which the v3.68 protocol types keep as unknown bytes; it is read here with
// protowire. Plugins other than policy packs stay unsupported.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// pluginDirectory is the plugin's program directory: the deprecated `program` field, else
// info.program_directory from the unknown fields.
func pluginDirectory(req *pulumirpc.RunPluginRequest) string {
	if req.Program != "" {
		return req.Program
	}
	return nestedString(req.ProtoReflect().GetUnknown(), 5, 2)
}

// nestedString finds the message field `outer` in b and returns its string field `inner`.
func nestedString(b []byte, outer, inner protowire.Number) string {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == outer && typ == protowire.BytesType {
			msg, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return ""
			}
			for len(msg) > 0 {
				fnum, ftyp, k := protowire.ConsumeTag(msg)
				if k < 0 {
					return ""
				}
				msg = msg[k:]
				if fnum == inner && ftyp == protowire.BytesType {
					v, _ := protowire.ConsumeBytes(msg)
					return string(v)
				}
				k = protowire.ConsumeFieldValue(fnum, ftyp, msg)
				if k < 0 {
					return ""
				}
				msg = msg[k:]
			}
			return ""
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return ""
		}
		b = b[m:]
	}
	return ""
}

func (host *nodeLanguageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	dir := pluginDirectory(req)
	if dir == "" {
		return errors.New("RunPlugin: the request names no plugin directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "PulumiPolicy.yaml")); err != nil {
		return fmt.Errorf("RunPlugin: only Node.js policy packs are supported by this language host (%s has no PulumiPolicy.yaml)", dir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return errors.New("RunPlugin: node not found on PATH")
	}
	env := req.Env
	if len(env) == 0 {
		env = os.Environ()
	}

	// Resolve the runner from the pack's directory, as `require` in the pack would.
	resolve := exec.Command(node, "-p", "require.resolve('@pulumi/pulumi/cmd/run-policy-pack')")
	resolve.Dir = dir
	resolve.Env = env
	out, err := resolve.Output()
	if err != nil {
		return fmt.Errorf("RunPlugin: @pulumi/pulumi/cmd/run-policy-pack not found from %s; run npm install there (%w)", dir, err)
	}
	runner := strings.TrimSpace(string(out))

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	// run-policy-pack <engine-address> <program>: req.Args holds the engine address.
	args := append([]string{runner}, req.Args...)
	args = append(args, ".")
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return server.Send(&pulumirpc.RunPluginResponse{
				Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exit.ExitCode())},
			})
		}
		return fmt.Errorf("RunPlugin: %w", err)
	}
	return nil
}
