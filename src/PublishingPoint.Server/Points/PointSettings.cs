using System.Text.Json;
using System.Text.Json.Serialization;

namespace PublishingPoint.Server.Points;

/// <summary>The ingest protocols a point may accept.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<IngestProtocol>))]
public enum IngestProtocol
{
    /// <summary>Live Smooth Streaming (ISML fragmented MP4) and CMAF over POST to Streams({id}).</summary>
    Fmp4,

    /// <summary>MPEG-TS over POST to Streams({id}).</summary>
    MpegTs,

    /// <summary>Files PUT or POSTed under the point by an HLS or DASH segmenter.</summary>
    Segments,
}

/// <summary>
/// Per-point settings, given when an operator creates the point through the API (an encoder that creates a
/// point by pushing gets the defaults). Stored as point.json in the point's folder so a restart keeps them.
/// </summary>
public sealed record PointSettings
{
    public const string FileName = "point.json";

    private static readonly JsonSerializerOptions _json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>DVR window in seconds; null uses PublishingPoint:DvrWindowSeconds.</summary>
    public int? DvrWindowSeconds { get; init; }

    /// <summary>null accepts every protocol.</summary>
    public IReadOnlyList<IngestProtocol>? AllowedIngest { get; init; }

    /// <summary>The secret encoders of this point must present: it replaces the server's (PublishingPoint:IngestSecret) for this point.</summary>
    public string? IngestSecret { get; init; }

    /// <summary>
    /// When an encoder pushes to a finished point: true starts a new presentation (the old archive moves to a
    /// "previous-N" folder), false (the default) continues the point where it ended.
    /// </summary>
    public bool RestartOnReconnect { get; init; }

    /// <summary>Same settings (the protocol lists compared by content, which record equality does not do).</summary>
    public bool SameAs(PointSettings other) =>
        other is not null && other.DvrWindowSeconds == DvrWindowSeconds && other.IngestSecret == IngestSecret
        && other.RestartOnReconnect == RestartOnReconnect && other.Archive == Archive
        && other.ArchiveSegmentSeconds == ArchiveSegmentSeconds && other.ArchiveLengthSeconds == ArchiveLengthSeconds
        && (other.AllowedIngest ?? []).Order().SequenceEqual((AllowedIngest ?? []).Order());

    /// <summary>Keep the event on disk (true, the default) or only what the DVR window needs (false).</summary>
    public bool Archive { get; init; } = true;

    /// <summary>Roll the archive over into a new self-contained file every this many seconds; null uses the server default.</summary>
    public int? ArchiveSegmentSeconds { get; init; }

    /// <summary>Delete archive files whose media ended more than this many seconds before the live edge; null uses the server default.</summary>
    public int? ArchiveLengthSeconds { get; init; }

    public bool Allows(IngestProtocol protocol) => AllowedIngest is null || AllowedIngest.Contains(protocol);

    public string? Validate()
    {
        if (DvrWindowSeconds is < 10 or > 7 * 24 * 3600)
        {
            return "dvrWindowSeconds must be between 10 and 604800";
        }

        if (ArchiveSegmentSeconds is < 10 or > 86400 || ArchiveLengthSeconds is < 10)
        {
            return "archiveSegmentSeconds must be between 10 and 86400, archiveLengthSeconds at least 10";
        }

        if (IngestSecret is { Length: < 8 or > 256 })
        {
            return "ingestSecret must have 8 to 256 characters";
        }

        return AllowedIngest is { Count: 0 } ? "allowedIngest must name at least one protocol (or be left out)" : null;
    }

    public static PointSettings? Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        return File.Exists(path) ? JsonSerializer.Deserialize<PointSettings>(File.ReadAllBytes(path), _json) : null;
    }

    public void Save(string directory) =>
        PublishingPoint.Server.Archive.Durable.WriteFile(Path.Combine(directory, FileName), JsonSerializer.SerializeToUtf8Bytes(this, _json));
}
