namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// Folders for a test's data, all under one root per test process that is deleted when the process exits (a run
/// leaves hundreds of megabytes of archives, captures and published copies). A root whose process is gone without
/// deleting it (a run that was killed; a whole suite's root, 240 MB, was still there after its run, its exit handler
/// cut short or refused by a file still held) is deleted by the next run, so at most the last run's folders stay.
/// </summary>
internal static class TempDirectory
{
    private const string RootPrefix = "pp-tests-";
    private static readonly Lazy<string> _root = new(CreateRoot);

    public static string Create(string prefix)
    {
        var path = Path.Combine(_root.Value, $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    private static string CreateRoot()
    {
        foreach (var stale in Directory.EnumerateDirectories(Path.GetTempPath(), RootPrefix + "*"))
        {
            if (int.TryParse(Path.GetFileName(stale).AsSpan(RootPrefix.Length), out var pid) && !IsRunning(pid))
            {
                TryDelete(stale);
            }
        }

        var root = Path.Combine(Path.GetTempPath(), RootPrefix + Environment.ProcessId);
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    }

    private static bool IsRunning(int pid) => Directory.Exists($"/proc/{pid}");

    private static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a file still held (a child process not yet gone): the next run's sweep takes it
        }
    }
}
