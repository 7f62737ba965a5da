namespace PublishingPoint.Media.IsoBmff;

/// <summary>The box types and 'uuid' user types this project reads or writes.</summary>
public static class BoxTypes
{
    public static readonly FourCC Ftyp = FourCC.From("ftyp");
    public static readonly FourCC Styp = FourCC.From("styp");

    public static readonly FourCC Emsg = FourCC.From("emsg");
    public static readonly FourCC Moov = FourCC.From("moov");
    public static readonly FourCC Mvhd = FourCC.From("mvhd");
    public static readonly FourCC Trak = FourCC.From("trak");
    public static readonly FourCC Tkhd = FourCC.From("tkhd");
    public static readonly FourCC Mdia = FourCC.From("mdia");
    public static readonly FourCC Mdhd = FourCC.From("mdhd");
    public static readonly FourCC Hdlr = FourCC.From("hdlr");
    public static readonly FourCC Minf = FourCC.From("minf");
    public static readonly FourCC Stbl = FourCC.From("stbl");
    public static readonly FourCC Stsd = FourCC.From("stsd");
    public static readonly FourCC Avc1 = FourCC.From("avc1");
    public static readonly FourCC Avc3 = FourCC.From("avc3");
    public static readonly FourCC AvcC = FourCC.From("avcC");
    public static readonly FourCC Mp4a = FourCC.From("mp4a");
    public static readonly FourCC Esds = FourCC.From("esds");
    public static readonly FourCC Btrt = FourCC.From("btrt");
    public static readonly FourCC Mvex = FourCC.From("mvex");
    public static readonly FourCC Mehd = FourCC.From("mehd");
    public static readonly FourCC Trex = FourCC.From("trex");
    public static readonly FourCC Moof = FourCC.From("moof");
    public static readonly FourCC Mfhd = FourCC.From("mfhd");
    public static readonly FourCC Traf = FourCC.From("traf");
    public static readonly FourCC Tfhd = FourCC.From("tfhd");
    public static readonly FourCC Tfdt = FourCC.From("tfdt");
    public static readonly FourCC Trun = FourCC.From("trun");
    public static readonly FourCC Mdat = FourCC.From("mdat");
    public static readonly FourCC Mfra = FourCC.From("mfra");
    public static readonly FourCC Tfra = FourCC.From("tfra");
    public static readonly FourCC Mfro = FourCC.From("mfro");
    public static readonly FourCC Uuid = FourCC.From("uuid");
    public static readonly FourCC Free = FourCC.From("free");
    public static readonly FourCC Skip = FourCC.From("skip");
    public static readonly FourCC Sidx = FourCC.From("sidx");
    public static readonly FourCC Udta = FourCC.From("udta");

    public static readonly FourCC HandlerVideo = FourCC.From("vide");
    public static readonly FourCC HandlerAudio = FourCC.From("soun");

    /// <summary>MS-SSTR / PIFF: the ISML server manifest carried at the top of a Smooth ingest.</summary>
    public static readonly Guid IsmlManifest = new("a5d40b30-e814-11dd-ba2f-0800200c9a66");

    /// <summary>MS-SSTR 2.2.4.4 TfxdBox: absolute time and duration of the fragment.</summary>
    public static readonly Guid Tfxd = new("6d1d9b05-42d5-44e6-80e2-141daff757b2");

    /// <summary>MS-SSTR 2.2.4.5 TfrfBox: times and durations of the fragments that follow (live look-ahead).</summary>
    public static readonly Guid Tfrf = new("d4807ef2-ca39-4695-8e54-26cb9e46a79f");
}
