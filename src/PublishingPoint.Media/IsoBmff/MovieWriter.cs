using System.Text;
using PublishingPoint.Media.Codecs.Aac;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// Writes an initialization segment from scratch: ftyp + moov(mvhd, trak(tkhd, mdia(mdhd, hdlr, minf(vmhd|smhd,
/// dinf(dref(url)), stbl(stsd, empty stts/stsc/stsz/stco)))) per track, mvex(trex per track)) (ISO/IEC 14496-12 §8.2
/// to §8.8.3). Sample entries are avc1+avcC(+btrt) (14496-15 5.4) or mp4a+esds (14496-14 5.6).
/// </summary>
public static class MovieWriter
{
    private const int MvhdSize = 8 + 100;
    private const int TkhdSize = 8 + 84;
    private const int MdhdSize = 8 + 24;
    private const int VmhdSize = 8 + 12;
    private const int SmhdSize = 8 + 8;
    private const int UrlSize = 8 + 4;
    private const int DrefSize = 8 + 8 + UrlSize;
    private const int DinfSize = 8 + DrefSize;
    private const int EmptyTablesSize = 16 + 16 + 20 + 16; // stts, stsc, stsz, stco with no entries
    private const int TrexSize = 8 + 24;
    private const int VisualEntryFixed = 8 + 78;
    private const int AudioEntryFixed = 8 + 28;
    private const int BtrtSize = 8 + 12;
    private const int MovieTimescale = 1000;

    private static readonly FourCC[] _brands = [FourCC.From("isom"), FourCC.From("iso6"), FourCC.From("avc1"), FourCC.From("mp41"), FourCC.From("dash")];
    private static readonly FourCC _url = FourCC.From("url ");
    private static readonly FourCC _vmhd = FourCC.From("vmhd");
    private static readonly FourCC _smhd = FourCC.From("smhd");
    private static readonly FourCC _dinf = FourCC.From("dinf");
    private static readonly FourCC _dref = FourCC.From("dref");
    private static readonly FourCC _stts = FourCC.From("stts");
    private static readonly FourCC _stsc = FourCC.From("stsc");
    private static readonly FourCC _stsz = FourCC.From("stsz");
    private static readonly FourCC _stco = FourCC.From("stco");
    private static readonly byte[] _videoHandlerName = Encoding.ASCII.GetBytes("VideoHandler\0");
    private static readonly byte[] _soundHandlerName = Encoding.ASCII.GetBytes("SoundHandler\0");

    public static int FtypLength => 16 + (4 * _brands.Length);

    /// <summary>Bytes <see cref="Write(Span{byte}, ReadOnlySpan{MovieTrack})"/> produces (ftyp + moov).</summary>
    public static int GetLength(ReadOnlySpan<MovieTrack> tracks) => FtypLength + GetMoovLength(tracks);

    public static byte[] Write(params ReadOnlySpan<MovieTrack> tracks)
    {
        var output = new byte[GetLength(tracks)];
        Write(output, tracks);
        return output;
    }

    public static int Write(Span<byte> destination, ReadOnlySpan<MovieTrack> tracks)
    {
        if (tracks.IsEmpty)
        {
            throw new ArgumentException("A movie needs at least one track.", nameof(tracks));
        }

        var length = GetLength(tracks);
        var w = new SpanWriter(destination[..length]);

        // §4.3 FileTypeBox: major_brand, minor_version, compatible_brands
        w.Box(BoxTypes.Ftyp, FtypLength);
        w.FourCC(_brands[0]);
        w.UInt32(0x200);
        foreach (var brand in _brands)
        {
            w.FourCC(brand);
        }

        w.Box(BoxTypes.Moov, GetMoovLength(tracks));
        uint nextTrackId = 1;
        foreach (var track in tracks)
        {
            nextTrackId = Math.Max(nextTrackId, track.TrackId + 1);
        }

        WriteMvhd(ref w, nextTrackId);
        foreach (var track in tracks)
        {
            WriteTrak(ref w, track);
        }

        // §8.8.1 MovieExtendsBox, §8.8.3 TrackExtendsBox: track_ID, default description index 1, other defaults 0
        w.Box(BoxTypes.Mvex, 8 + (TrexSize * tracks.Length));
        foreach (var track in tracks)
        {
            w.FullBox(BoxTypes.Trex, TrexSize, 0, 0);
            w.UInt32(track.TrackId);
            w.UInt32(1);
            w.Zeros(12);
        }

        return w.Position;
    }

    private static int GetMoovLength(ReadOnlySpan<MovieTrack> tracks)
    {
        var length = 8 + MvhdSize + 8;
        foreach (var track in tracks)
        {
            ArgumentNullException.ThrowIfNull(track);
            length += GetTrakLength(track) + TrexSize;
        }

        return length;
    }

    private static int GetTrakLength(MovieTrack track) => 8 + TkhdSize + GetMdiaLength(track);

    private static int GetMdiaLength(MovieTrack track) => 8 + MdhdSize + GetHdlrLength(track) + GetMinfLength(track);

    private static int GetHdlrLength(MovieTrack track) => 8 + 24 + HandlerName(track).Length;

    private static int GetMinfLength(MovieTrack track) =>
        8 + (track.Kind == TrackKind.Video ? VmhdSize : SmhdSize) + DinfSize + GetStblLength(track);

    private static int GetStblLength(MovieTrack track) => 8 + 16 + GetSampleEntryLength(track) + EmptyTablesSize;

    private static int GetSampleEntryLength(MovieTrack track) => track.Kind switch
    {
        TrackKind.Video => VisualEntryFixed + 8 + track.Avc!.GetRecordLength() + (HasBtrt(track) ? BtrtSize : 0),
        TrackKind.Audio => AudioEntryFixed + GetEsdsLength(track.Aac!),
        _ => throw new ArgumentException($"Track {track.TrackId} has neither an AVC nor an AAC configuration."),
    };

    private static bool HasBtrt(MovieTrack track) => track.AverageBitrate > 0 || track.MaxBitrate > 0;

    private static byte[] HandlerName(MovieTrack track) =>
        track.Kind == TrackKind.Video ? _videoHandlerName : _soundHandlerName;

    // §8.2.2 MovieHeaderBox v0: times, timescale, duration 0 (fragmented), rate 1.0, volume 1.0, matrix, next_track_ID
    private static void WriteMvhd(ref SpanWriter w, uint nextTrackId)
    {
        w.FullBox(BoxTypes.Mvhd, MvhdSize, 0, 0);
        w.Zeros(8);
        w.UInt32(MovieTimescale);
        w.UInt32(0);
        w.UInt32(0x0001_0000);
        w.UInt16(0x0100);
        w.Zeros(10);
        w.UnityMatrix();
        w.Zeros(24);
        w.UInt32(nextTrackId);
    }

    private static void WriteTrak(ref SpanWriter w, MovieTrack track)
    {
        var video = track.Kind == TrackKind.Video;
        if (track.Kind == TrackKind.Other)
        {
            throw new ArgumentException($"Track {track.TrackId} has neither an AVC nor an AAC configuration.", nameof(track));
        }

        w.Box(BoxTypes.Trak, GetTrakLength(track));

        // §8.3.2 TrackHeaderBox v0, flags enabled|in_movie: track_ID, duration 0, layer, group, volume, matrix, size 16.16
        w.FullBox(BoxTypes.Tkhd, TkhdSize, 0, 0x3);
        w.Zeros(8);
        w.UInt32(track.TrackId);
        w.Zeros(4 + 4 + 8 + 2 + 2);
        w.UInt16(video ? 0 : 0x0100);
        w.Zeros(2);
        w.UnityMatrix();
        w.UInt32(video ? (uint)Width(track) << 16 : 0);
        w.UInt32(video ? (uint)Height(track) << 16 : 0);

        w.Box(BoxTypes.Mdia, GetMdiaLength(track));

        // §8.4.2 MediaHeaderBox v0: times, timescale, duration 0, pad(1) language(15), pre_defined
        w.FullBox(BoxTypes.Mdhd, MdhdSize, 0, 0);
        w.Zeros(8);
        w.UInt32(track.Timescale);
        w.UInt32(0);
        w.UInt16(PackLanguage(track.Language));
        w.UInt16(0);

        // §8.4.3 HandlerBox: pre_defined, handler_type, reserved[3], name (null-terminated)
        w.FullBox(BoxTypes.Hdlr, GetHdlrLength(track), 0, 0);
        w.UInt32(0);
        w.FourCC(video ? BoxTypes.HandlerVideo : BoxTypes.HandlerAudio);
        w.Zeros(12);
        w.Bytes(HandlerName(track));

        WriteMinf(ref w, track, video);
    }

    private static void WriteMinf(ref SpanWriter w, MovieTrack track, bool video)
    {
        w.Box(BoxTypes.Minf, GetMinfLength(track));
        if (video)
        {
            // §12.1.2 VideoMediaHeaderBox, flags 1: graphicsmode, opcolor[3]
            w.FullBox(_vmhd, VmhdSize, 0, 1);
            w.Zeros(8);
        }
        else
        {
            // §12.2.2 SoundMediaHeaderBox: balance, reserved
            w.FullBox(_smhd, SmhdSize, 0, 0);
            w.Zeros(4);
        }

        // §8.7.1/8.7.2 DataInformationBox with one self-contained 'url ' entry (flags 1)
        w.Box(_dinf, DinfSize);
        w.FullBox(_dref, DrefSize, 0, 0);
        w.UInt32(1);
        w.FullBox(_url, UrlSize, 0, 1);

        w.Box(BoxTypes.Stbl, GetStblLength(track));
        w.FullBox(BoxTypes.Stsd, 16 + GetSampleEntryLength(track), 0, 0);
        w.UInt32(1);
        if (video)
        {
            WriteAvc1(ref w, track);
        }
        else
        {
            WriteMp4a(ref w, track);
        }

        // §8.6.1.2, §8.7.4, §8.7.3.2, §8.7.5: no samples in the 'moov' of a fragmented file
        w.FullBox(_stts, 16, 0, 0);
        w.UInt32(0);
        w.FullBox(_stsc, 16, 0, 0);
        w.UInt32(0);
        w.FullBox(_stsz, 20, 0, 0);
        w.UInt32(0);
        w.UInt32(0);
        w.FullBox(_stco, 16, 0, 0);
        w.UInt32(0);
    }

    // §12.1.3 VisualSampleEntry: reserved(6) data_reference_index | pre_defined, reserved, pre_defined[3], width,
    // height, 72 dpi, reserved, frame_count 1, compressorname[32], depth 0x18, pre_defined -1; then avcC, btrt.
    private static void WriteAvc1(ref SpanWriter w, MovieTrack track)
    {
        var avc = track.Avc!;
        w.Box(BoxTypes.Avc1, GetSampleEntryLength(track));
        w.Zeros(6);
        w.UInt16(1);
        w.Zeros(16);
        w.UInt16(Width(track));
        w.UInt16(Height(track));
        w.UInt32(0x0048_0000);
        w.UInt32(0x0048_0000);
        w.UInt32(0);
        w.UInt16(1);
        w.Zeros(32);
        w.UInt16(0x18);
        w.UInt16(0xFFFF);

        var recordLength = avc.GetRecordLength();
        w.Box(BoxTypes.AvcC, 8 + recordLength);
        avc.Write(w.Take(recordLength));

        if (HasBtrt(track))
        {
            // §8.5.2.2 BitRateBox: bufferSizeDB, maxBitrate, avgBitrate
            w.Box(BoxTypes.Btrt, BtrtSize);
            w.UInt32(0);
            w.UInt32((uint)Math.Max(track.MaxBitrate, track.AverageBitrate));
            w.UInt32((uint)track.AverageBitrate);
        }
    }

    // §12.2.3 AudioSampleEntry: reserved(6) data_reference_index | reserved(8), channelcount, samplesize 16,
    // pre_defined, reserved, samplerate 16.16; then esds.
    private static void WriteMp4a(ref SpanWriter w, MovieTrack track)
    {
        var aac = track.Aac!;
        w.Box(BoxTypes.Mp4a, GetSampleEntryLength(track));
        w.Zeros(6);
        w.UInt16(1);
        w.Zeros(8);
        w.UInt16(Channels(track));
        w.UInt16(16);
        w.Zeros(4);
        var sampleRate = track.SampleRate > 0 ? track.SampleRate : aac.SamplingFrequency;
        w.UInt32(sampleRate <= ushort.MaxValue ? (uint)sampleRate << 16 : 0);
        WriteEsds(ref w, track, aac);
    }

    // 14496-1 §7.2.6.5 ES_Descriptor(ES_ID 0, no flags) { DecoderConfigDescriptor(objectType 0x40 = MPEG-4 audio,
    // streamType 5 = audio, upStream 0, reserved 1, bufferSizeDB, maxBitrate, avgBitrate) { DecoderSpecificInfo =
    // AudioSpecificConfig }, SLConfigDescriptor(predefined 2) }
    private static int GetEsdsLength(AudioSpecificConfig aac)
    {
        var dsi = DescriptorLength(aac.Bytes.Length);
        var dcd = DescriptorLength(13 + dsi);
        return 12 + DescriptorLength(3 + dcd + DescriptorLength(1));
    }

    private static void WriteEsds(ref SpanWriter w, MovieTrack track, AudioSpecificConfig aac)
    {
        var asc = aac.Bytes.Span;
        var dsiLength = DescriptorLength(asc.Length);
        var dcdBody = 13 + dsiLength;
        var esBody = 3 + DescriptorLength(dcdBody) + DescriptorLength(1);
        w.FullBox(BoxTypes.Esds, GetEsdsLength(aac), 0, 0);
        WriteDescriptorHeader(ref w, 0x03, esBody);
        w.UInt16(0);
        w.UInt8(0);
        WriteDescriptorHeader(ref w, 0x04, dcdBody);
        w.UInt8(0x40);
        w.UInt8((0x05 << 2) | 0x01);
        w.UInt8(0);
        w.UInt16(0);
        w.UInt32((uint)Math.Max(track.MaxBitrate, track.AverageBitrate));
        w.UInt32((uint)track.AverageBitrate);
        WriteDescriptorHeader(ref w, 0x05, asc.Length);
        w.Bytes(asc);
        WriteDescriptorHeader(ref w, 0x06, 1);
        w.UInt8(0x02);
    }

    // §8.3.3 expandable size: 7 bits per byte, high bit set on all but the last
    private static int SizeFieldLength(int bodyLength) => bodyLength < 0x80 ? 1 : bodyLength < 0x4000 ? 2 : bodyLength < 0x20_0000 ? 3 : 4;

    private static int DescriptorLength(int bodyLength) => 1 + SizeFieldLength(bodyLength) + bodyLength;

    private static void WriteDescriptorHeader(ref SpanWriter w, byte tag, int bodyLength)
    {
        w.UInt8(tag);
        for (var i = SizeFieldLength(bodyLength) - 1; i >= 0; i--)
        {
            w.UInt8(((bodyLength >> (7 * i)) & 0x7F) | (i > 0 ? 0x80 : 0));
        }
    }

    private static int Width(MovieTrack track) => track.Width > 0 ? track.Width : track.Avc!.Width;

    private static int Height(MovieTrack track) => track.Height > 0 ? track.Height : track.Avc!.Height;

    private static int Channels(MovieTrack track) =>
        track.Channels > 0 ? track.Channels : track.Aac!.ChannelCount > 0 ? track.Aac.ChannelCount : 2;

    // §8.4.2.2 language: three 5-bit letters, each 'a'..'z' minus 0x60
    private static int PackLanguage(string language)
    {
        if (language is not { Length: 3 } || !language.All(char.IsAsciiLetterLower))
        {
            language = "und";
        }

        return ((language[0] - 0x60) << 10) | ((language[1] - 0x60) << 5) | (language[2] - 0x60);
    }
}
