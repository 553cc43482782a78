package jobs

import "testing"

func TestParseCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		ok   bool
		want Command
	}{
		{"SHOW JOBS", true, Command{Kind: ShowJobs}},
		{"  show   jobs ; ", true, Command{Kind: ShowJobs}},
		{"STOP JOB copy1", true, Command{Kind: StopJob, Name: "copy1"}},
		{"resume job `my-job`;", true, Command{Kind: ResumeJob, Name: "my-job"}},
		{"DROP JOB IF EXISTS j", true, Command{Kind: DropJob, Name: "j", IfExists: true}},
		{"drop job j", true, Command{Kind: DropJob, Name: "j"}},
		{"CREATE JOB c AS INSERT INTO t SELECT * FROM s;", true, Command{Kind: CreateJob, Name: "c", Insert: "INSERT INTO t SELECT * FROM s"}},
		{"CREATE JOB c AS\n  insert into t\n select a from s where a > 1", true, Command{Kind: CreateJob, Name: "c", Insert: "insert into t\n select a from s where a > 1"}},
		{"SHOW TABLES", false, Command{}},
		{"STOP JOB", false, Command{}},
		{"SHOW JOBS; SELECT 1", false, Command{}},
		{"SELECT 'SHOW JOBS'", false, Command{}},
		{"DROP TABLE j", false, Command{}},
		{"CREATE JOB c AS SELECT 1", false, Command{}},
	} {
		got, ok := ParseCommand(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{"a": true, "copy-1.x_y": true, "": false, "a/b": false, "a b": false} {
		if ValidName(name) != want {
			t.Errorf("ValidName(%q) != %v", name, want)
		}
	}
}
