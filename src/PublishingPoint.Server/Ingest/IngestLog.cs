namespace PublishingPoint.Server.Ingest;

internal static partial class IngestLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Ingest {Point} stream {Stream} connected from {Remote}")]
    public static partial void Connected(ILogger logger, string point, string stream, System.Net.IPAddress? remote);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Ingest {Point} stream {Stream}: tracks {Tracks}, archive {Archive}")]
    public static partial void Header(ILogger logger, string point, string stream, string tracks, string archive);

    [LoggerMessage(EventId = 236, Level = LogLevel.Warning, Message = "Ingest {Point} stream {Stream}: audio track {TrackId} is left out (its fragments are dropped): {Reason}")]
    public static partial void AudioLeftOut(ILogger logger, string point, string stream, uint trackId, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "Ingest {Point} stream {Stream}: fragment {Track} at {Time} is already indexed; dropped")]
    public static partial void Duplicate(ILogger logger, string point, string stream, PublishingPoint.Media.Tracks.TrackKey track, long time);

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "Ingest {Point} stream {Stream} ended ({Reason}): {Accepted} fragments accepted, {Duplicates} duplicates")]
    public static partial void Ended(ILogger logger, string point, string stream, string reason, long accepted, long duplicates);

    [LoggerMessage(EventId = 204, Level = LogLevel.Warning, Message = "Ingest {Point} stream {Stream} refused with {Status}: {Problem}")]
    public static partial void Refused(ILogger logger, string point, string stream, int status, string problem);

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "Request refused with {Status}: {Problem} ({Path})")]
    public static partial void BadRequest(ILogger logger, int status, string problem, string path);

    [LoggerMessage(EventId = 208, Level = LogLevel.Warning, Message = "Request refused with {Status}: {Problem} ({Path}); {Held} more refused with {Status} in the last 10 s were not logged")]
    public static partial void BadRequests(ILogger logger, int status, string problem, string path, long held);

    [LoggerMessage(EventId = 207, Level = LogLevel.Warning, Message = "Ingest {Point} stream {Stream}: the last gathered fragments could not be indexed")]
    public static partial void FlushFailed(ILogger logger, Exception exception, string point, string stream);

    [LoggerMessage(EventId = 209, Level = LogLevel.Warning, Message = "Ingest {Point} stream {Stream}: an fsync of {Archive} failed; what it covered was written again from memory and synced (check the disk)")]
    public static partial void SyncRecovered(ILogger logger, string point, string stream, string archive);

    [LoggerMessage(EventId = 206, Level = LogLevel.Error, Message = "Ingest {Point} stream {Stream}: archive write failed")]
    public static partial void ArchiveFailed(ILogger logger, Exception exception, string point, string stream);

    [LoggerMessage(EventId = 233, Level = LogLevel.Warning, Message = "Ingest {Point}: events ({Scheme}) come faster than a point keeps them (8 a second): skipped until they slow down")]
    public static partial void EventsTooFast(ILogger logger, string point, string scheme);

    [LoggerMessage(EventId = 235, Level = LogLevel.Warning, Message = "Ingest {Point}: event {Scheme} id {Id} skipped: the events waiting for their segment (version 0 'emsg') would pass 64, or 1 MB (an eighth of MaxIngestBytesPerConnection when that is less), or what the connection may hold (MaxIngestBytesPerConnection and the point's and server's bounds); logged once a connection")]
    public static partial void WaitingEventSkipped(ILogger logger, string point, string scheme, uint id);

    [LoggerMessage(EventId = 232, Level = LogLevel.Warning, Message = "Ingest {Point}: event {Scheme} id {Id} skipped: its time {Time} at timescale {Timescale} is out of range")]
    public static partial void EventOutOfRange(ILogger logger, string point, string scheme, uint id, long time, uint timescale);

    [LoggerMessage(EventId = 230, Level = LogLevel.Information, Message = "Ingest {Point}: event {Scheme} id {Id} at {Seconds:0.###} s")]
    public static partial void Event(ILogger logger, string point, string scheme, uint id, double seconds);

    [LoggerMessage(EventId = 231, Level = LogLevel.Warning, Message = "Ingest {Point}: the timed events could not be saved; they are served but would not survive a restart")]
    public static partial void EventsNotSaved(ILogger logger, Exception exception, string point);

    [LoggerMessage(EventId = 234, Level = LogLevel.Error, Message = "Ingest {Point} stream {Stream}: {Fragments} fragment(s) listed before their fsync were lost with the unsynced end of {File} (the fsync failed twice); playlists mark them EXT-X-GAP")]
    public static partial void FragmentsLost(ILogger logger, string point, string stream, string file, int fragments);
}
