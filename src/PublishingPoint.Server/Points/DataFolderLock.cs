namespace PublishingPoint.Server.Points;

/// <summary>
/// One server per data folder: a second process on the same folder (an overlapping deploy, a stray second instance)
/// would read the first one's half-written fragment as a torn end and cut it off while the first kept writing past
/// the cut, leaving a hole that a later start stops at. The second start is refused instead. The lock is an exclusive
/// open of ".lock" in the folder (flock on Linux), let go with the process, so a crash leaves nothing to clean up.
/// </summary>
internal static class DataFolderLock
{
    public const string FileName = ".lock";

    public static FileStream Take(string dataRoot)
    {
        var path = Path.Combine(dataRoot, FileName);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new DataFolderInUseException(
                $"Another server process is using the data folder {dataRoot} ({path} is locked). Give each server its own PublishingPoint:DataPath.", e);
        }
    }
}

/// <summary>The data folder is another server process's: the start is refused (Program exits with code 2).</summary>
public sealed class DataFolderInUseException : Exception
{
    public DataFolderInUseException()
    {
    }

    public DataFolderInUseException(string message) : base(message)
    {
    }

    public DataFolderInUseException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
