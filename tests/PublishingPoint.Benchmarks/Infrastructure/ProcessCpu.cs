using System.Globalization;

namespace PublishingPoint.Benchmarks.Infrastructure;

/// <summary>CPU time of a process and its children (nginx's workers), and of the whole machine, from /proc.</summary>
internal static class ProcessCpu
{
    /// <summary>USER_HZ: the unit of the times in /proc (100 on every Linux architecture .NET runs on).</summary>
    private const double TicksPerSecond = 100;

    /// <summary>User + system seconds of <paramref name="pid"/> and of the processes whose parent it is.</summary>
    public static double Seconds(int pid)
    {
        double ticks = 0;
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out var candidate))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(folder, "stat"));
                // After the command name (which may hold spaces): state is field 3, ppid 4, utime 14, stime 15.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (candidate == pid || int.Parse(fields[1], CultureInfo.InvariantCulture) == pid)
                {
                    ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // the process ended while the folder was listed
            }
        }

        return ticks / TicksPerSecond;
    }

    /// <summary>The machine's busy and total CPU time so far (every core), from the first line of /proc/stat.</summary>
    public static (double Busy, double Total) Machine()
    {
        using var reader = new StreamReader("/proc/stat");
        var fields = reader.ReadLine()!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
        var total = fields.Take(8).Sum();
        var idle = fields[3] + fields[4];
        return ((total - idle) / TicksPerSecond, total / TicksPerSecond);
    }
}
