using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Where cached segments get their <see cref="SpooledFile"/> copies (PublishingPoint:SpoolPath, else ".spool" in the
/// data folder: on disk, where the page cache can drop the pages under pressure, not a RAM-backed temporary folder).
/// At most <see cref="PublishingPointOptions.MaxSpooledFiles"/> copies (each an open descriptor) exist at once; past
/// that, segments are sent from memory. Off when DirectSend is off, and when the folder cannot be created.
/// </summary>
internal sealed partial class SegmentSpool
{
    private readonly ILogger<SegmentSpool> _logger;
    private readonly int _maxFiles;
    private readonly Action _closed;
    private int _failures;
    private int _open;

    public SegmentSpool(IOptions<PublishingPointOptions> options, ILogger<SegmentSpool> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        _closed = () => Interlocked.Decrement(ref _open);
        var settings = options.Value;
        _maxFiles = settings.MaxSpooledFiles;
        AtRequest = settings.SpoolAtRequest;
        if (!settings.DirectSend)
        {
            return;
        }

        var folder = string.IsNullOrWhiteSpace(settings.SpoolPath)
            ? Path.Combine(Folders.Resolve(settings.DataPath), ".spool")
            : Folders.Resolve(settings.SpoolPath);
        Folder = Path.GetFullPath(folder);
    }

    /// <summary>Null when spooling is off. Created with the first copy, so a server that never spooled leaves nothing behind.</summary>
    public string? Folder { get; private set; }

    private bool _created;

    private bool EnsureFolder()
    {
        if (Volatile.Read(ref _created))
        {
            return true;
        }

        try
        {
            Directory.CreateDirectory(Folder!);
            Volatile.Write(ref _created, true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Unavailable(_logger, Folder!, e.Message);
            Folder = null;
            return false;
        }
    }

    /// <summary>The request for a cached segment from which it is sent from its spooled copy (PublishingPoint:SpoolAtRequest).</summary>
    public int AtRequest { get; } = 1;

    /// <summary>Spooled copies open now.</summary>
    public int OpenFiles => Volatile.Read(ref _open);

    /// <summary>Test hook: called before each write with whether it runs on a thread of the pool.</summary>
    internal Action<bool>? Writing { get; set; }

    public SpooledFile? TryWrite(ReadOnlySpan<byte> bytes)
    {
        Writing?.Invoke(Thread.CurrentThread.IsThreadPoolThread);
        if (Folder is not { } folder || bytes.Length < DirectSend.SendFileMinimumBytes || !EnsureFolder())
        {
            return null;
        }

        if (Interlocked.Increment(ref _open) > _maxFiles)
        {
            Interlocked.Decrement(ref _open);
            return null;
        }

        var file = SpooledFile.TryCreate(folder, bytes, _closed);
        if (file is null)
        {
            Interlocked.Decrement(ref _open);
        }

        // Viewers are still served (from memory); one line per hundred failures keeps a full disk from flooding the log.
        if (file is null && Interlocked.Increment(ref _failures) % 100 == 1)
        {
            WriteFailed(_logger, folder);
        }

        return file;
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Warning, Message = "Segment spool {Folder} is unavailable ({Reason}); segments are sent from memory")]
    private static partial void Unavailable(ILogger logger, string folder, string reason);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Could not write a segment to the spool {Folder} (disk full?); it is sent from memory")]
    private static partial void WriteFailed(ILogger logger, string folder);
}
