package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/databricks/cli/libs/testserver"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// Workspace files and folders as databricks_workspace_file and databricks_directory use them. The
// test server only accepts AUTO imports (the provider sends RAW), does not create parents on mkdirs,
// and deletes anything silently; a workspace creates parents, refuses a non-recursive delete of a
// non-empty folder with DIRECTORY_NOT_EMPTY and answers 404 for a missing path.
func (e *emulator) registerWorkspace() {
	s := e.server

	s.Handle("POST", "/api/2.0/workspace/import", func(req testserver.Request) any {
		var imp workspace.Import
		if err := json.Unmarshal(req.Body, &imp); err != nil {
			return badRequest("MALFORMED_REQUEST", err.Error())
		}
		switch imp.Format {
		case "", workspace.ImportFormatAuto, workspace.ImportFormatRaw, workspace.ImportFormatSource:
		default:
			return badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("the emulator imports AUTO, RAW and SOURCE only, not %s", imp.Format))
		}
		if !strings.HasPrefix(imp.Path, "/") {
			return badRequest("INVALID_PARAMETER_VALUE", "Path ("+imp.Path+") must be absolute")
		}
		content, err := base64.StdEncoding.DecodeString(imp.Content)
		if err != nil {
			return badRequest("INVALID_PARAMETER_VALUE", "content is not base64: "+err.Error())
		}
		if req.Workspace.DirectoryExists(imp.Path) {
			return badRequest("RESOURCE_ALREADY_EXISTS", "Path ("+imp.Path+") already exists as a directory.")
		}
		resp := req.Workspace.WorkspaceFilesImportFile(imp.Path, content, imp.Overwrite)
		if resp.StatusCode == 0 || resp.StatusCode == http.StatusOK {
			// A .py file with a notebook header is stored without its extension.
			e.rememberPath(req.Workspace, imp.Path, strings.TrimSuffix(imp.Path, ".py"))
			for dir := path.Dir(imp.Path); dir != "/"; dir = path.Dir(dir) {
				e.rememberPath(req.Workspace, dir)
			}
			return map[string]any{}
		}
		return resp
	})

	// A workspace's object ids are 16-digit numbers, below 2^53, so exact in the float64 that the provider's
	// SDKv2 code passes them through. The test server's are nanosecond clocks plus 7e18: Terraform then reads
	// back an id that differs in its last digits from the one a saved plan holds, and `terraform apply <plan>`
	// fails with "Provider produced inconsistent final plan". Ids are taken modulo 2^52: stable, still unique.
	s.Handle("GET", "/api/2.0/workspace/get-status", func(req testserver.Request) any {
		resp := req.Workspace.WorkspaceGetStatus(req.URL.Query().Get("path"))
		switch info := resp.Body.(type) {
		case workspace.ObjectInfo:
			info.ObjectId %= 1 << 52
			resp.Body = info
		case *workspace.ObjectInfo:
			copied := *info
			copied.ObjectId %= 1 << 52
			resp.Body = &copied
		}
		return resp
	})

	s.Handle("POST", "/api/2.0/workspace/mkdirs", func(req testserver.Request) any {
		var mk workspace.Mkdirs
		if err := json.Unmarshal(req.Body, &mk); err != nil {
			return badRequest("MALFORMED_REQUEST", err.Error())
		}
		if !strings.HasPrefix(mk.Path, "/") {
			return badRequest("INVALID_PARAMETER_VALUE", "Path ("+mk.Path+") must be absolute")
		}
		p := path.Clean(mk.Path)
		var missing []string
		for dir := p; dir != "/"; dir = path.Dir(dir) {
			if req.Workspace.FileExists(dir) {
				return badRequest("RESOURCE_ALREADY_EXISTS", "Path ("+dir+") already exists as a file.")
			}
			if !req.Workspace.DirectoryExists(dir) {
				missing = append(missing, dir)
			}
		}
		for i := len(missing) - 1; i >= 0; i-- {
			req.Workspace.WorkspaceMkdirs(workspace.Mkdirs{Path: missing[i]})
			e.rememberPath(req.Workspace, missing[i])
		}
		return map[string]any{}
	})

	s.Handle("POST", "/api/2.0/workspace/delete", func(req testserver.Request) any {
		var del workspace.Delete
		if err := json.Unmarshal(req.Body, &del); err != nil {
			return badRequest("MALFORMED_REQUEST", err.Error())
		}
		w := req.Workspace
		p := path.Clean(del.Path)
		isFile, isDir := w.FileExists(p), w.DirectoryExists(p)
		if !isFile && !isDir {
			return notFound("Path (" + del.Path + ") doesn't exist.")
		}
		if isDir {
			if !del.Recursive && e.hasChildren(req, p) {
				return badRequest("DIRECTORY_NOT_EMPTY", "Folder ("+p+") is not empty")
			}
			// The test server deletes by bare string prefix ("/a/b" would take "/a/bc" along);
			// the trailing slash keeps it inside the folder.
			w.WorkspaceDelete(p+"/", true)
		}
		w.WorkspaceDelete(p, false)
		return map[string]any{}
	})
}

// hasChildren reports whether anything still exists below dir. The test server keeps its path maps
// private and has no list route, so this checks the paths that went through the import and mkdirs
// handlers above (the only ways in that the provider uses).
func (e *emulator) hasChildren(req testserver.Request, dir string) bool {
	w := req.Workspace
	for _, p := range e.knownPaths(w) {
		if strings.HasPrefix(p, dir+"/") && (w.FileExists(p) || w.DirectoryExists(p)) {
			return true
		}
	}
	return false
}

// knownPaths lists the workspace paths seen in import and mkdirs requests for this workspace.
func (e *emulator) knownPaths(w *testserver.FakeWorkspace) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.extrasFor(w)
	out := make([]string, 0, len(x.paths))
	for p := range x.paths {
		out = append(out, p)
	}
	return out
}

func (e *emulator) rememberPath(w *testserver.FakeWorkspace, paths ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range paths {
		e.extrasFor(w).paths[p] = true
	}
}
