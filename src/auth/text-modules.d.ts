// Files imported with { type: "text" }: Bun embeds their content as a string.
declare module "*.sh" {
  const text: string;
  export default text;
}
