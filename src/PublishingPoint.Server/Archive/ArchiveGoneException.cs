namespace PublishingPoint.Server.Archive;

/// <summary>
/// A fragment's archive file was deleted after the fragment was looked up: the archive's retention cut it while a
/// request was on its way to reading it, its point was deleted, or an operator removed the file. The fragment no
/// longer exists (answered 404), which is not a server fault.
/// </summary>
public sealed class ArchiveGoneException : IOException
{
    public ArchiveGoneException()
        : base("the archive file is gone")
    {
    }

    public ArchiveGoneException(string message)
        : base(message)
    {
    }

    public ArchiveGoneException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
