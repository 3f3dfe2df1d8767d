# frozen_string_literal: true

# Ending a process group: a process spawned with `pgroup: true` and whatever
# it forked. TERM goes to the whole group; once the leader has been reaped,
# or `grace` seconds have passed, KILL goes to whatever is left of it, so
# that no forked child outlives a test or a task.
module ProcessGroup
  module_function

  def stop(pid, grace: 5)
    signal('TERM', pid)
    deadline = now + grace
    reaped = false
    sleep 0.05 until (reaped = reap(pid)) || now > deadline
    signal('KILL', pid)
    wait(pid) unless reaped
  end

  def signal(name, pid)
    Process.kill(name, -pid)
  rescue Errno::ESRCH
    nil
  end

  # True once `pid` has been reaped (here or elsewhere).
  def reap(pid)
    !Process.wait(pid, Process::WNOHANG).nil?
  rescue Errno::ECHILD
    true
  end

  def wait(pid)
    Process.wait(pid)
  rescue Errno::ECHILD
    nil
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end
end
