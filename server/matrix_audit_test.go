package server

// auditMatrixRoutes: a clip's audit log is its owner's (and site admins',
// who may take any clip down); those who may only view the clip are
// refused, and for everyone else it does not exist. Everyone reads the log
// of their own clips; only admins read the site's.
func auditMatrixRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/clips/:id/audit", path: "/api/v1/clips/{C}/audit", want: statuses(200, 403, 403, 404, 404, 401, 200)},
		{method: "GET", pattern: "/api/v1/me/audit", path: "/api/v1/me/audit?format=csv", want: all(200, 401)},
		{method: "GET", pattern: "/api/v1/admin/audit", path: "/api/v1/admin/audit", want: statuses(403, 403, 403, 403, 403, 401, 200)},
	}
}
