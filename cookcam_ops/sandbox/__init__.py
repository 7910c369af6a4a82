"""The sandbox: the reference CookCam API on loopback hosts (sshd, git, npm, PM2), to rehearse on.

Services: `manager.start_sandbox`, `manager.stop_sandbox`, `status.inspect_sandbox`,
`status.change_sandbox`. The pieces they use live beside them (procs, sshd, pm2, hosts, files,
layout); `render` draws the status table.
"""
