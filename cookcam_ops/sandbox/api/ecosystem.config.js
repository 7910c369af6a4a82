// PM2 process file. Secrets come from .env in the app's cwd (read by dotenv), never from here.
module.exports = {
  apps: [
    {
      name: 'cookcam-api',
      script: 'dist/index.js',
      cwd: __dirname,
      exec_mode: 'cluster', // @cookcam-marker exec-mode
      instances: 2, // @cookcam-marker instances
      // The app calls process.send('ready') once listening; PM2 waits for it this long.
      wait_ready: true,
      listen_timeout: 10000,
      // Longer than the app's own 8 s drain deadline, so PM2's SIGKILL never cuts a drain short.
      kill_timeout: 10000, // @cookcam-marker kill-timeout
      env: {
        NODE_ENV: 'production',
      },
    },
  ],
};
