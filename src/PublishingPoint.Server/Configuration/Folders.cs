namespace PublishingPoint.Server.Configuration;

/// <summary>
/// Where relative folder settings (DataPath, SpoolPath, Publish:Path) point: systemd's StateDirectory when the server
/// runs as a unit that has one (it sets $STATE_DIRECTORY), else the working directory the server was started in, not
/// the folder of the program (a single-file executable in /usr/local/bin must not write to /usr/local/bin/data).
/// </summary>
public static class Folders
{
    public static string Resolve(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        // Without a trailing separator: "/var/lib/pp/" would make every "under the root" check look for "//".
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(Base, path)));
    }

    /// <summary>The folder relative settings are resolved against.</summary>
    public static string Base =>
        Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } state ? state.Split(':')[0] : Environment.CurrentDirectory;
}
