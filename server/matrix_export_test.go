package server

// exportMatrixRoutes: the data export and the account deletion act on the
// signed-in user's own data only, so every person gets the same answer;
// the deletion is sent with a wrong password here (the matrix must not
// delete its cast), which every signed-in person gets refused.
func exportMatrixRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/me/export", path: "/api/v1/me/export", want: all(200, 401)},
		{method: "DELETE", pattern: "/api/v1/me", path: "/api/v1/me", body: body(`{"password":"not it at all"}`), want: all(400, 401)},
	}
}
