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
// deletes anything silently, keeps "/Workspace/x" and "/x" apart and hands out object ids above 2^53; a
// workspace creates parents, refuses a non-recursive delete of a non-empty folder with
// DIRECTORY_NOT_EMPTY, answers 404 for a missing path, takes both spellings of a path for one object,
// and its ids survive a float64 (Terraform's SDKv2 providers read numbers through one).
func (e *emulator) registerWorkspace() {
	s := e.server

	s.Handle("GET", "/api/2.0/workspace/get-status", func(req testserver.Request) any {
		resp := req.Workspace.WorkspaceGetStatus(canonicalPath(req.URL.Query().Get("path")))
		switch info := resp.Body.(type) {
		case *workspace.ObjectInfo:
			info.ObjectId = floatSafeID(info.ObjectId)
		case workspace.ObjectInfo:
			info.ObjectId = floatSafeID(info.ObjectId)
			resp.Body = info
		}
		return resp
	})
	// As the platform: a missing object is 404 RESOURCE_DOES_NOT_EXIST, and the content comes base64 in
	// JSON unless direct_download asks for the bytes (the test server returns bytes, or nothing, always).
	s.Handle("GET", "/api/2.0/workspace/export", func(req testserver.Request) any {
		p := canonicalPath(req.URL.Query().Get("path"))
		if status := req.Workspace.WorkspaceGetStatus(p); status.StatusCode == http.StatusNotFound {
			return status
		}
		data := req.Workspace.WorkspaceExport(p)
		if req.URL.Query().Get("direct_download") == "true" {
			return data
		}
		return map[string]string{"content": base64.StdEncoding.EncodeToString(data), "file_type": strings.TrimPrefix(path.Ext(p), ".")}
	})
	s.Handle("POST", "/api/2.0/workspace-files/import-file/{path:.*}", func(req testserver.Request) any {
		p := canonicalPath("/" + strings.TrimPrefix(req.Vars["path"], "/"))
		resp := req.Workspace.WorkspaceFilesImportFile(p, req.Body, req.URL.Query().Get("overwrite") == "true")
		if resp.StatusCode == 0 || resp.StatusCode == http.StatusOK {
			e.rememberPath(req.Workspace, p)
			for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
				e.rememberPath(req.Workspace, dir)
			}
		}
		return resp
	})
	s.Handle("GET", "/api/2.0/workspace-files/{path:.*}", func(req testserver.Request) any {
		return req.Workspace.WorkspaceFilesExportFile(canonicalPath("/" + strings.TrimPrefix(req.Vars["path"], "/")))
	})

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
		imp.Path = canonicalPath(imp.Path)
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

	s.Handle("POST", "/api/2.0/workspace/mkdirs", func(req testserver.Request) any {
		var mk workspace.Mkdirs
		if err := json.Unmarshal(req.Body, &mk); err != nil {
			return badRequest("MALFORMED_REQUEST", err.Error())
		}
		if !strings.HasPrefix(mk.Path, "/") {
			return badRequest("INVALID_PARAMETER_VALUE", "Path ("+mk.Path+") must be absolute")
		}
		p := canonicalPath(path.Clean(mk.Path))
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
		p := canonicalPath(path.Clean(del.Path))
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

// canonicalPath names a workspace object the one way the test server stores it: "/Workspace/Users/x"
// and "/Users/x" are the same object on the platform.
func canonicalPath(p string) string {
	if strings.HasPrefix(p, "/Workspace/") {
		return strings.TrimPrefix(p, "/Workspace")
	}
	return p
}

// floatSafeID maps the test server's object ids (a nanosecond clock plus 7e18) below 2^53, where a
// float64 holds them exactly, as real workspace object ids are. Ids less than 10^15 ns (11 days) apart
// stay distinct.
func floatSafeID(id int64) int64 {
	const span = 1_000_000_000_000_000 // 10^15; the result is below 2*10^15 < 2^53
	return id%span + span
}
