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

    /// <summary>ID3 in 'emsg': AOM's "Carriage of ID3 Timed Metadata in CMAF" and Apple's scheme.</summary>
    public static readonly string[] Id3Schemes = ["https://aomedia.org/emsg/ID3", "https://developer.apple.com/streaming/emsg-id3"];

    /// <summary>An ID3 tag (ID3v2 header) in one of the ID3 schemes: what the TS family carries as timed ID3.</summary>
    public bool IsId3 => Id3Schemes.Contains(Scheme, StringComparer.Ordinal) && Message.AsSpan().StartsWith("ID3"u8) && Message.Length >= 10;

    /// <summary>
    /// An event with its SCTE-35 section read when it is one. Control characters in the scheme and value (an encoder's
    /// bytes) become '?': a line break there would end a playlist's tag and start a forged one, or a log line, and an
    /// MPD's XML refuses them.
    /// </summary>
    public static TimedEvent Create(string scheme, string value, uint id, long startTicks, long? durationTicks, byte[] message)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentNullException.ThrowIfNull(value);
        scheme = Printable(scheme);
        value = Printable(value);
        var splice = scheme == Scte35Scheme && SpliceInfo.TryRead(message, out var info) ? info : (SpliceInfo?)null;
        return new TimedEvent(scheme, value, id, startTicks, durationTicks, message, splice);
    }

    /// <summary>
    /// The text with control characters, and characters XML cannot hold (U+FFFE, U+FFFF, a surrogate without its pair), as
    /// '?' (what an encoder sent, for a playlist, an MPD or a log line: one the MPD's writer refuses broke the point's MPD
    /// for as long as the event was kept).
    /// </summary>
    internal static string Printable(string text)
    {
        char[]? cleaned = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            if (char.IsControl(c) || !System.Xml.XmlConvert.IsXmlChar(c))
            {
                cleaned ??= text.ToCharArray();
                cleaned[i] = '?';
            }
        }

        return cleaned is null ? text : new string(cleaned);
    }

    /// <summary>An identifier unique within the point, the same on every origin: the HLS EXT-X-DATERANGE ID.</summary>
    public string Key => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Id}-{StartTicks}");
}
