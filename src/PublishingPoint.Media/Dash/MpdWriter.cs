using System.Globalization;
using System.Text;
using System.Xml;

namespace PublishingPoint.Media.Dash;

/// <summary>
/// Writes a <see cref="MediaPresentation"/> as an MPD (ISO/IEC 23009-1, DASH-IF IOP): UTF-8 XML, one
/// SegmentTemplate per Representation (a SegmentList where its segments' numbers have gaps), its timeline folded
/// into S elements (@t only where time jumps, @r for runs).
/// </summary>
public static class MpdWriter
{
    public const string Namespace = "urn:mpeg:dash:schema:mpd:2011";
    public const string ContentType = "application/dash+xml";
    private const string RoleScheme = "urn:mpeg:dash:role:2011";
    private const string ChannelScheme = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";

    private static readonly XmlWriterSettings _settings = new()
    {
        Encoding = new UTF8Encoding(false),
        Indent = true,
        IndentChars = "  ",
        NewLineChars = "\n",
        OmitXmlDeclaration = false,
    };

    public static string Write(MediaPresentation mpd)
    {
        ArgumentNullException.ThrowIfNull(mpd);
        if (mpd.IsDynamic && (mpd.AvailabilityStartTime is null || mpd.PublishTime is null))
        {
            throw new ArgumentException("A dynamic MPD needs availabilityStartTime and publishTime.", nameof(mpd));
        }

        using var text = new Utf8StringWriter();
        using (var xml = XmlWriter.Create(text, _settings))
        {
            xml.WriteStartDocument();
            xml.WriteStartElement("MPD", Namespace);
            xml.WriteAttributeString("profiles", string.Join(',', mpd.Profiles));
            xml.WriteAttributeString("type", mpd.IsDynamic ? "dynamic" : "static");
            Optional(xml, "availabilityStartTime", mpd.AvailabilityStartTime);
            Optional(xml, "publishTime", mpd.PublishTime);
            Optional(xml, "mediaPresentationDuration", mpd.MediaPresentationDuration);
            Optional(xml, "minimumUpdatePeriod", mpd.MinimumUpdatePeriod);
            Optional(xml, "timeShiftBufferDepth", mpd.TimeShiftBufferDepth);
            Optional(xml, "suggestedPresentationDelay", mpd.SuggestedPresentationDelay);
            xml.WriteAttributeString("minBufferTime", Duration(mpd.MinBufferTime));
            if (mpd.ServiceDescription is { } service)
            {
                xml.WriteStartElement("ServiceDescription");
                xml.WriteAttributeString("id", "0");
                xml.WriteStartElement("Latency");
                xml.WriteAttributeString("target", Number(service.TargetLatencyMs));
                xml.WriteAttributeString("min", Number(service.MinLatencyMs));
                xml.WriteAttributeString("max", Number(service.MaxLatencyMs));
                xml.WriteEndElement();
                xml.WriteStartElement("PlaybackRate");
                xml.WriteAttributeString("min", service.MinPlaybackRate.ToString("0.###", CultureInfo.InvariantCulture));
                xml.WriteAttributeString("max", service.MaxPlaybackRate.ToString("0.###", CultureInfo.InvariantCulture));
                xml.WriteEndElement();
                xml.WriteEndElement();
            }

            foreach (var period in mpd.Periods)
            {
                WritePeriod(xml, period);
            }

            // Schema order: UTCTiming follows the periods.
            foreach (var timing in mpd.UtcTimings)
            {
                xml.WriteStartElement("UTCTiming");
                xml.WriteAttributeString("schemeIdUri", timing.SchemeIdUri);
                xml.WriteAttributeString("value", timing.Value);
                xml.WriteEndElement();
            }

            xml.WriteEndElement();
            xml.WriteEndDocument();
        }

        return text.ToString();
    }

    private static void WriteEventStream(XmlWriter xml, DashEvents stream)
    {
        const string Scte35Namespace = "http://www.scte.org/schemas/35/2016";
        xml.WriteStartElement("EventStream");
        xml.WriteAttributeString("schemeIdUri", stream.SchemeIdUri);
        if (stream.Value is { } value)
        {
            xml.WriteAttributeString("value", value);
        }

        xml.WriteAttributeString("timescale", Number(stream.Timescale));
        xml.WriteAttributeString("presentationTimeOffset", Number(stream.PresentationTimeOffset));
        foreach (var e in stream.Events)
        {
            xml.WriteStartElement("Event");
            xml.WriteAttributeString("presentationTime", Number(e.PresentationTime));
            if (e.Duration is { } duration)
            {
                xml.WriteAttributeString("duration", Number(duration));
            }

            xml.WriteAttributeString("id", Number(e.Id));
            if (stream.SchemeIdUri == DashEvents.Scte35Scheme)
            {
                xml.WriteStartElement("scte35", "Signal", Scte35Namespace);
                xml.WriteElementString("scte35", "Binary", Scte35Namespace, Convert.ToBase64String(e.Message));
                xml.WriteEndElement();
            }
            else
            {
                xml.WriteAttributeString("messageData", Convert.ToBase64String(e.Message));
            }

            xml.WriteEndElement();
        }

        xml.WriteEndElement();
    }

    private static void WritePeriod(XmlWriter xml, DashPeriod period)
    {
        xml.WriteStartElement("Period");
        xml.WriteAttributeString("id", period.Id);
        xml.WriteAttributeString("start", Duration(period.Start));
        foreach (var stream in period.EventStreams)
        {
            WriteEventStream(xml, stream);
        }

        foreach (var set in period.AdaptationSets)
        {
            xml.WriteStartElement("AdaptationSet");
            xml.WriteAttributeString("id", Number(set.Id));
            xml.WriteAttributeString("contentType", set.ContentType == DashContentType.Video ? "video" : "audio");
            xml.WriteAttributeString("mimeType", set.MimeType);
            if (set.Language is { Length: > 0 } language)
            {
                xml.WriteAttributeString("lang", language);
            }

            xml.WriteAttributeString("segmentAlignment", set.SegmentAlignment ? "true" : "false");
            xml.WriteAttributeString("startWithSAP", Number(set.StartWithSap));
            if (set.ContentType == DashContentType.Video && set.Representations.Count > 0)
            {
                xml.WriteAttributeString("maxWidth", Number(set.Representations.Max(r => r.Width)));
                xml.WriteAttributeString("maxHeight", Number(set.Representations.Max(r => r.Height)));
            }

            // RepresentationBase's InbandEventStream comes before Accessibility and Role (ISO/IEC 23009-1 schema order).
            foreach (var (scheme, value) in set.InbandEvents)
            {
                xml.WriteStartElement("InbandEventStream");
                xml.WriteAttributeString("schemeIdUri", scheme);
                xml.WriteAttributeString("value", value);
                xml.WriteEndElement();
            }

            if (set.Role is { } role)
            {
                xml.WriteStartElement("Role");
                xml.WriteAttributeString("schemeIdUri", RoleScheme);
                xml.WriteAttributeString("value", role);
                xml.WriteEndElement();
            }

            if (set.Captions is { } captions)
            {
                xml.WriteStartElement("Accessibility");
                xml.WriteAttributeString("schemeIdUri", captions.Scheme);
                xml.WriteAttributeString("value", captions.Value);
                xml.WriteEndElement();
            }

            foreach (var representation in set.Representations)
            {
                WriteRepresentation(xml, representation);
            }

            xml.WriteEndElement();
        }

        xml.WriteEndElement();
    }

    private static void WriteRepresentation(XmlWriter xml, DashRepresentation representation)
    {
        xml.WriteStartElement("Representation");
        xml.WriteAttributeString("id", representation.Id);
        xml.WriteAttributeString("bandwidth", Number(representation.Bandwidth));
        xml.WriteAttributeString("codecs", representation.Codecs);
        if (representation.Width > 0 && representation.Height > 0)
        {
            xml.WriteAttributeString("width", Number(representation.Width));
            xml.WriteAttributeString("height", Number(representation.Height));
        }

        if (representation.FrameRate is { } frameRate)
        {
            xml.WriteAttributeString("frameRate", frameRate);
        }

        if (representation.Sar is { } sar)
        {
            xml.WriteAttributeString("sar", sar);
        }

        if (representation.AudioSamplingRate > 0)
        {
            xml.WriteAttributeString("audioSamplingRate", Number(representation.AudioSamplingRate));
        }

        if (representation.AudioChannels > 0)
        {
            xml.WriteStartElement("AudioChannelConfiguration");
            xml.WriteAttributeString("schemeIdUri", ChannelScheme);
            xml.WriteAttributeString("value", Number(representation.AudioChannels));
            xml.WriteEndElement();
        }

        var template = representation.SegmentTemplate;
        if (template.Numbers is { } numbers)
        {
            WriteSegmentList(xml, representation.Id, template, numbers);
            xml.WriteEndElement();
            return;
        }

        xml.WriteStartElement("SegmentTemplate");
        xml.WriteAttributeString("timescale", Number(template.Timescale));
        if (template.PresentationTimeOffset != 0)
        {
            xml.WriteAttributeString("presentationTimeOffset", Number(template.PresentationTimeOffset));
        }

        xml.WriteAttributeString("startNumber", Number(template.StartNumber));
        if (template.AvailabilityTimeOffset is { } offset)
        {
            xml.WriteAttributeString("availabilityTimeOffset", offset.ToString("0.###", CultureInfo.InvariantCulture));
            xml.WriteAttributeString("availabilityTimeComplete", "false");
        }

        xml.WriteAttributeString("initialization", template.Initialization);
        xml.WriteAttributeString("media", template.Media);
        xml.WriteStartElement("SegmentTimeline");
        WriteTimeline(xml, template.Segments);
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndElement();
    }

    /// <summary>
    /// The same timeline with each segment's URL spelled out (SegmentList: no $Number$ to count on from startNumber,
    /// no identifiers in its URLs), for segments whose numbering has gaps.
    /// </summary>
    private static void WriteSegmentList(XmlWriter xml, string id, DashSegmentTemplate template, IReadOnlyList<long> numbers)
    {
        if (numbers.Count != template.Segments.Count)
        {
            throw new ArgumentException($"{numbers.Count} numbers for {template.Segments.Count} segments.", nameof(numbers));
        }

        xml.WriteStartElement("SegmentList");
        xml.WriteAttributeString("timescale", Number(template.Timescale));
        if (template.PresentationTimeOffset != 0)
        {
            xml.WriteAttributeString("presentationTimeOffset", Number(template.PresentationTimeOffset));
        }

        // Schema order (MultipleSegmentBaseType): Initialization, SegmentTimeline, then the SegmentURLs.
        xml.WriteStartElement("Initialization");
        xml.WriteAttributeString("sourceURL", Substitute(template.Initialization, id, null));
        xml.WriteEndElement();
        // One S a segment, no @r: dash.js takes a SegmentURL by the index of the S element, not of the segment.
        xml.WriteStartElement("SegmentTimeline");
        WriteTimeline(xml, template.Segments, fold: false);
        xml.WriteEndElement();
        foreach (var number in numbers)
        {
            xml.WriteStartElement("SegmentURL");
            xml.WriteAttributeString("media", Substitute(template.Media, id, number));
            xml.WriteEndElement();
        }

        xml.WriteEndElement();
    }

    private static string Substitute(string template, string id, long? number)
    {
        var url = template.Replace("$RepresentationID$", id, StringComparison.Ordinal);
        return number is { } n ? url.Replace("$Number$", Number(n), StringComparison.Ordinal) : url;
    }

    /// <summary>S@t where a segment does not start where the previous one ended (and first); S@r for equal runs.</summary>
    private static void WriteTimeline(XmlWriter xml, IReadOnlyList<DashSegment> segments, bool fold = true)
    {
        var i = 0;
        long expected = long.MinValue;
        while (i < segments.Count)
        {
            var first = segments[i];
            var repeat = 0;
            while (fold
                && i + repeat + 1 < segments.Count
                && segments[i + repeat + 1].Duration == first.Duration
                && segments[i + repeat + 1].Time == first.Time + ((repeat + 1) * first.Duration))
            {
                repeat++;
            }

            xml.WriteStartElement("S");
            if (first.Time != expected)
            {
                xml.WriteAttributeString("t", Number(first.Time));
            }

            xml.WriteAttributeString("d", Number(first.Duration));
            if (repeat > 0)
            {
                xml.WriteAttributeString("r", Number(repeat));
            }

            xml.WriteEndElement();
            i += repeat + 1;
            expected = first.Time + ((repeat + 1) * first.Duration);
        }
    }

    private static void Optional(XmlWriter xml, string name, DateTimeOffset? value)
    {
        if (value is { } time)
        {
            xml.WriteAttributeString(name, DateTime(time));
        }
    }

    private static void Optional(XmlWriter xml, string name, TimeSpan? value)
    {
        if (value is { } span)
        {
            xml.WriteAttributeString(name, Duration(span));
        }
    }

    /// <summary>xs:dateTime in UTC with milliseconds, e.g. 2025-01-02T03:04:05.678Z.</summary>
    public static string DateTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>xs:duration in seconds with up to millisecond precision, e.g. PT0S, PT2S, PT3601.5S.</summary>
    public static string Duration(TimeSpan span) =>
        string.Create(CultureInfo.InvariantCulture, $"PT{Math.Round(span.TotalSeconds, 3):0.###}S");

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private sealed class Utf8StringWriter : StringWriter
    {
        public Utf8StringWriter()
            : base(CultureInfo.InvariantCulture)
        {
        }

        public override Encoding Encoding => Encoding.UTF8;
    }
}
