using Microsoft.Extensions.Options;
using PublishingPoint.Server.Hosting;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Where cached segments get their <see cref="SpooledFile"/> copies (PublishingPoint:SpoolPath, else a folder in the
/// system's temporary directory). Off when DirectSend is off, and when the folder cannot be created.
/// </summary>
internal sealed partial class SegmentSpool
{
    private readonly ILogger<SegmentSpool> _logger;
    private int _failures;

    public SegmentSpool(IOptions<PublishingPointOptions> options, ILogger<SegmentSpool> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        var settings = options.Value;
        if (!settings.DirectSend)
        {
            return;
        }

        var folder = string.IsNullOrWhiteSpace(settings.SpoolPath) ? Path.Combine(Path.GetTempPath(), "publishingpoint-spool") : settings.SpoolPath;
        try
        {
            Folder = Directory.CreateDirectory(folder).FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Unavailable(logger, folder, e.Message);
        }
    }

    /// <summary>Null when spooling is off.</summary>
    public string? Folder { get; }

    public SpooledFile? TryWrite(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (Folder is null || bytes.Length < DirectSend.MinimumBodyBytes)
        {
            return null;
        }

        var file = SpooledFile.TryCreate(Folder, bytes);
        // Viewers are still served (from memory); one line per hundred failures keeps a full disk from flooding the log.
        if (file is null && Interlocked.Increment(ref _failures) % 100 == 1)
        {
            WriteFailed(_logger, Folder);
        }

        return file;
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Warning, Message = "Segment spool {Folder} is unavailable ({Reason}); segments are sent from memory")]
    private static partial void Unavailable(ILogger logger, string folder, string reason);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Could not write a segment to the spool {Folder} (disk full?); it is sent from memory")]
    private static partial void WriteFailed(ILogger logger, string folder);
}
