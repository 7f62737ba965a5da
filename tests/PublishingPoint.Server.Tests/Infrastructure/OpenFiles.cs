namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// File descriptors of a process (this one by default) open on files under a folder, read from /proc; a data folder's
/// ".lock" (the server holds it open while it runs) is not counted.
/// </summary>
public static class OpenFiles
{
    public static int Under(string folder, int? pid = null)
    {
        var root = Path.GetFullPath(folder).TrimEnd('/') + "/";
        var count = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{(pid is { } p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "self")}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(root, StringComparison.Ordinal) && Path.GetFileName(target) != ".lock")
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }

        return count;
    }
}
