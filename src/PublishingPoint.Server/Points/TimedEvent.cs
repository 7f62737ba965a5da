using PublishingPoint.Media.Scte35;

namespace PublishingPoint.Server.Points;

/// <summary>
/// A timed event an encoder sent with its media ('emsg' in CMAF ingest): a SCTE-35 cue or another scheme's message,
/// placed on the point's media timeline (100 ns ticks, the timeline every output maps to wall clock and to its own).
/// </summary>
/// <param name="Splice">For SCTE-35 (urn:scte:scte35:2013:bin), what the section commands.</param>
public sealed record TimedEvent(string Scheme, string Value, uint Id, long StartTicks, long? DurationTicks, byte[] Message, SpliceInfo? Splice)
{
    public const string Scte35Scheme = "urn:scte:scte35:2013:bin";

    /// <summary>An identifier unique within the point, the same on every origin: the HLS EXT-X-DATERANGE ID.</summary>
    public string Key => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Id}-{StartTicks}");
}
